export { compileCel, type Activation, type CelProgram, type CompileOptions } from './compile.js';
export { parseCel, CelSyntaxError } from './parser.js';
export { compileRegex } from './regex.js';
export type { Expr } from './ast.js';
export { CelDouble, CelError, CelUint, type CelValue, celEquals, displayValue, isError, typeName } from './values.js';

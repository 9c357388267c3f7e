/** The CEL syntax tree. Every node keeps its source offset so compile errors can point at it. */
import type { CelUint, CelDouble } from './values.js';

export type Literal = null | boolean | number | string | CelUint | CelDouble | Uint8Array;

export type Expr =
  | { kind: 'lit'; pos: number; value: Literal }
  | { kind: 'ident'; pos: number; name: string }
  | { kind: 'select'; pos: number; operand: Expr; field: string }
  | { kind: 'index'; pos: number; operand: Expr; index: Expr }
  | { kind: 'call'; pos: number; fn: string; target: Expr | undefined; args: Expr[] }
  | { kind: 'list'; pos: number; items: Expr[] }
  | { kind: 'map'; pos: number; entries: Array<{ key: Expr; value: Expr }> }
  | { kind: 'unary'; pos: number; op: '!' | '-'; operand: Expr }
  | { kind: 'binary'; pos: number; op: BinaryOp; left: Expr; right: Expr }
  | { kind: 'cond'; pos: number; test: Expr; then: Expr; otherwise: Expr };

export type BinaryOp = '&&' | '||' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | '+' | '-' | '*' | '/' | '%';

/** Exit code for errors (findings use --exit-code, so errors stay distinguishable). */
export const EXIT_ERROR = 2;

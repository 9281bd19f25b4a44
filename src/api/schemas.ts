// Schemas shared by the route plugins: every error answer has the same body (the code from
// src/errors.ts and its message), so clients and the OpenAPI document see one shape.
export const errorBody = {
  type: 'object',
  properties: { error: { type: 'string', description: 'Error code (LS_ERR_...).' }, message: { type: 'string' } },
} as const;

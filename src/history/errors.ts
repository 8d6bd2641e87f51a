export type TraceErrorCode = 'VERSION' | 'CORRUPT' | 'MISSING' | 'NOT_A_TRACE' | 'EXISTS';

export class TraceError extends Error {
  override name = 'TraceError';
  constructor(readonly code: TraceErrorCode, message: string) {
    super(message);
  }
}

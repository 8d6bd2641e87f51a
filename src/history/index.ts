export { crc32 } from './crc32.js';
export { TraceError, type TraceErrorCode } from './errors.js';
export { TraceWriter } from './trace-writer.js';
export { TraceReader, type TraceMeta, type TraceEnd, type ChunkInfo, type Chunk, type Truncation } from './trace-reader.js';

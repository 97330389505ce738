export {
  createRequestQueue,
  type CircuitState,
  type QueueAddOptions,
  type QueueAttempt,
  type QueueHooks,
  type QueuePriority,
  type QueueRejectReason,
  type QueueStats,
  type QueueTask,
  type RequestQueue,
  type RequestQueueOptions,
} from './request-queue.js';

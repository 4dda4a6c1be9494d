import type { ComponentFactory } from './component.js';
import { snapshotComponent } from './snapshot-component.js';

/**
 * The sidecar's components in start order. The snapshot loads first so that
 * everything after it (gossip, guardrails) sees the restored state.
 */
export const COMPONENTS: readonly ComponentFactory[] = [snapshotComponent];

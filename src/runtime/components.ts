import type { ComponentFactory } from './component.js';
import { guardrailsComponent } from '../guardrails/component.js';
import { snapshotComponent } from './snapshot-component.js';
import { warmStartComponent } from './warm-start-component.js';
import { gossipComponent } from '../gossip/component.js';
import { rewardStreamComponent } from '../aggregator/component.js';
import { decisionLogComponent } from '../log/decision-log.js';
import { feedbackComponent } from './feedback-component.js';
import { adminRoutesComponent } from '../admin/routes.js';
import { notifyComponent } from '../notify/component.js';

/**
 * The sidecar's components in start order. The snapshot loads first so that
 * everything after it (gossip, guardrails) sees the restored state, and
 * warm-start priors load before the first decision;
 * notifications start first so they hear everything the others publish.
 */
export const COMPONENTS: readonly ComponentFactory[] = [notifyComponent, snapshotComponent, warmStartComponent, gossipComponent, rewardStreamComponent, decisionLogComponent, feedbackComponent, guardrailsComponent, adminRoutesComponent];

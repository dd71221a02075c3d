/** The groups of the JobStore contract suite, registered in order by `rrq/testing`. */
export * as badData from "./badData.js"
export * as claim from "./claim.js"
export * as dlq from "./dlq.js"
export * as enqueue from "./enqueue.js"
export * as outcomes from "./outcomes.js"
export * as signals from "./signals.js"
export * as unique from "./unique.js"
export * as workers from "./workers.js"

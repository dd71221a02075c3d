import { Context, Effect, Layer } from "effect"
import { JobStore } from "../../src/JobStore.js"
import * as Memory from "../../src/internal/memoryStore.js"
import * as Settings from "../../src/Settings.js"
import { contractSuite, StoreBackdoor } from "../../src/testing.js"

contractSuite("memory", () =>
  Layer.effectContext(
    Effect.map(Memory.make, (store) =>
      Context.make(JobStore, store).pipe(
        Context.add(StoreBackdoor, { setRecord: store.unsafeSetRecord, addPending: store.unsafeAddPending })
      ))
  ).pipe(Layer.provideMerge(Settings.layer())))

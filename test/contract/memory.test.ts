import { Context, Effect, Layer } from "effect"
import { JobStore } from "../../src/JobStore.js"
import { ClockDriven } from "../../src/internal/contract/support.js"
import * as Memory from "../../src/internal/memoryStore.js"
import * as Settings from "../../src/Settings.js"
import { contractSuite, StoreBackdoor } from "../../src/testing.js"

// the memory store reads the time only from Effect's Clock: its timed cases run under TestClock
contractSuite("memory", () =>
  Layer.effectContext(
    Effect.map(Memory.make, (store) =>
      Context.make(JobStore, store).pipe(
        Context.add(StoreBackdoor, { setRecord: store.unsafeSetRecord, addPending: store.unsafeAddPending }),
        Context.add(ClockDriven, true)
      ))
  ).pipe(Layer.provideMerge(Settings.layer())))

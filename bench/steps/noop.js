// No-op module steps: the benchmarks measure the engine, not the work.
export async function step() {
  return null
}

export async function undo() {
  return null
}

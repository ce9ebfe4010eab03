/**
 * Reads until `done` holds or 5 s pass, and returns the last read: for writes that do not hold up
 * the operation they record (the audit trail), so the assertion after it says what was missing.
 */
export async function settled<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

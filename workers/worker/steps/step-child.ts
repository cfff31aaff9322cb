/* ---------------------------------------------------------------------------
 * One pipeline step in its own process (started by the worker): a model that
 * crashes onnxruntime, leaks or runs past its timeout takes down this process,
 * never the worker. Talks to its parent over IPC: log lines, then one result.
 * ------------------------------------------------------------------------- */
import { StepFailure, type StepContext } from "./context";
import { runStep } from "./registry";

type Out = { kind: "log"; line: string } | { kind: "done"; result: unknown } | { kind: "failed"; reason: string };
const send = (m: Out) => new Promise<void>((resolve) => process.send!(m, () => resolve()));

process.once("message", (ctx: StepContext) => {
  void (async () => {
    try {
      const result = await runStep(ctx, (line) => void send({ kind: "log", line }));
      await send({ kind: "done", result });
    } catch (err) {
      const reason =
        err instanceof StepFailure ? err.message : `The step crashed: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 400)}`;
      if (!(err instanceof StepFailure)) console.error(err);
      await send({ kind: "failed", reason });
    }
    process.disconnect();
  })();
});

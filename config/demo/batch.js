// The demo's batch: a process module (docs/processes.md) that drives the
// plant simulator through fill, heat, mix and drain, batch after batch.
//
// Everything it must not forget is in the replicated context: the batch
// number, the step, and each step's deadline. After a takeover the new
// active holds the batch where it was; a confirm resumes it at the same step
// (entering a step again only re-asserts its setpoints), a reject starts a
// fresh batch from fill.
//
// Options (processes.batch.options): fillMs, heatMs, mixMs, drainMs (how
// long each step lasts), heatTo (°C), report (a records table for one line
// per finished batch, or "" for none).

const STEPS = ["fill", "heat", "mix", "drain"];
/** the simulator's step register: 1 fill, 2 heat, 3 hold (our mix), 4 drain, 0 idle */
const STEP_CODE = { fill: 1, heat: 2, mix: 3, drain: 4 };

/** the setpoints that make a step; written again when a resumed module re-enters it */
async function enter(ctx, step, o) {
  await ctx.write("line1.batch.step", STEP_CODE[step]);
  switch (step) {
    case "fill":
      await ctx.write("line1.pump1.run", false);
      await ctx.write("line1.tank1.inletValve", 80);
      return;
    case "heat":
      await ctx.write("line1.tank1.inletValve", 0);
      await ctx.write("line1.reactor.setpoint", o.heatTo);
      await ctx.write("line1.reactor.heaterEnable", true);
      return;
    case "mix":
      return;
    case "drain":
      await ctx.write("line1.reactor.heaterEnable", false);
      await ctx.write("line1.pump1.run", true);
      return;
  }
}

/** a write the plant refused (device unreachable, a timeout): said, and tried again; a stop ends it */
async function retrying(ctx, what, fn) {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      ctx.log.warn(`${what}: ${err.message}; trying again in 1 s`);
      await ctx.sleep(1000);
    }
  }
}

const reading = (ctx, tag) => {
  try {
    const r = ctx.read(tag);
    return r.quality === "good" ? r.value : null;
  } catch {
    return null;
  }
};

export async function start(ctx) {
  const o = { fillMs: 8000, heatMs: 6000, mixMs: 5000, drainMs: 6000, heatTo: 70, report: "batch_log", ...ctx.options };
  if (!ctx.resumed || !STEPS.includes(ctx.step)) await ctx.setStep("fill", { batch: (ctx.get("batch") ?? 0) + 1, startedAt: new Date().toISOString() });
  while (!ctx.signal.aborted) {
    const step = ctx.step;
    const batch = ctx.get("batch");
    await retrying(ctx, `batch ${batch}: entering ${step}`, () => enter(ctx, step, o));
    ctx.log.info(`batch ${batch}: ${step}`);
    await ctx.timer(step, o[`${step}Ms`]);
    const next = STEPS[STEPS.indexOf(step) + 1];
    if (next) {
      await ctx.setStep(next, next === "heat" ? { filledTo: reading(ctx, "line1.tank1.level") } : {});
      continue;
    }
    // the batch is done: one report line (idempotent: a resume after a crash here writes it once), then the next batch
    await retrying(ctx, `batch ${batch}: ending`, () => ctx.write("line1.batch.step", 0));
    if (o.report) {
      await ctx.record(o.report, { batch, startedAt: ctx.get("startedAt"), endedAt: new Date().toISOString(), filledTo: ctx.get("filledTo") ?? null, reactorTemperature: reading(ctx, "line1.reactor.temperature") }, `batch-${ctx.get("startedAt")}-${batch}`);
    }
    await ctx.setStep("fill", { batch: batch + 1, startedAt: new Date().toISOString(), filledTo: null });
  }
}

export async function stop(ctx) {
  ctx.log.info(`batch ${ctx.get("batch")} paused at ${ctx.step}`);
}

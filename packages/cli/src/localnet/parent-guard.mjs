// Preloaded (`node --import`) into every process `cmesh localnet` starts: when the localnet process that started
// this one is gone (crashed, killed with SIGKILL), this process stops itself with SIGTERM, so no orphan survives.
// Plain JavaScript because it loads before the TypeScript loader.
const parentPid = Number(process.env.CMESH_LOCALNET_PARENT_PID);

function parentAlive() {
  try {
    process.kill(parentPid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

if (Number.isInteger(parentPid) && parentPid > 1) {
  const timer = setInterval(() => {
    if (parentAlive()) return;
    clearInterval(timer);
    process.stderr.write(`localnet parent ${parentPid} is gone; stopping\n`);
    process.kill(process.pid, "SIGTERM");
    // if SIGTERM is handled but shutdown hangs, do not linger
    setTimeout(() => process.exit(1), 10_000).unref();
  }, 500);
  timer.unref();
}

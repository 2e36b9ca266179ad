// Preloaded (`node --import`) into every process `npm start` runs. start.mjs stops its
// services itself; but when start.mjs dies without doing so (kill -9, a crash), the service
// is re-parented. It notices within a second and stops itself as if it got SIGTERM, so no
// service outlives the `npm start` that started it.
const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  process.kill(process.pid, 'SIGTERM');
}, 1000);
watch.unref();

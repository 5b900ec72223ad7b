// A bench-only Node-RED node (never shipped; loaded by the soak through settings.nodesDir). It answers
// GET /facewatch/soak/stats with the figures the soak cannot read from outside Node-RED: the main
// thread's heap and event-loop delay, and every inference worker's tensors and memory, reached
// through the engine registry of FaceWatch's own build (dist/), the very module instance the nodes use.
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const dist = path.resolve(__dirname, '..', '..', 'dist');
const { engines } = require(path.join(dist, 'lib', 'vision', 'registry.js'));
const { adminRoute } = require(path.join(dist, 'nodes', 'shared', 'admin.js'));

// The delay beyond the sampling timer's own interval, as bench/loop.ts computes it (an idle loop reads 0).
const RESOLUTION_MS = 10;
const beyond = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
// Started at load, so the first window covers Node-RED's start too.
const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
loop.enable();
let windowStart = Date.now();
let cpuBefore = process.cpuUsage();

module.exports = function (RED) {
  function SoakProbe(def) {
    RED.nodes.createNode(this, def);
  }
  RED.nodes.registerType('facewatch-soak-probe', SoakProbe);

  adminRoute(RED, {
    method: 'get',
    path: '/facewatch/soak/stats',
    permission: 'facewatch.read',
    timeoutMs: 120000,
    // Each answer covers the window since the previous one (event loop, CPU), then starts a new one.
    handler: async () => {
      const now = Date.now();
      const window = {
        seconds: (now - windowStart) / 1000,
        loopP99Ms: beyond(loop.percentile(99)),
        loopP50Ms: beyond(loop.percentile(50)),
        loopMaxMs: beyond(loop.max),
        cpu: process.cpuUsage(cpuBefore),
      };
      loop.reset();
      windowStart = now;
      cpuBefore = process.cpuUsage();
      const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
      return {
        pid: process.pid,
        uptime: process.uptime(),
        memory: { rss, heapTotal, heapUsed, external, arrayBuffers },
        window,
        activeResources: process.getActiveResourcesInfo().length,
        engines: await engines.workerStats(),
      };
    },
  });
};

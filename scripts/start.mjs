// `npm start`: runs Node-RED with FaceWatch installed and the example flow, on http://127.0.0.1:1880 by
// default, offline, with no camera or broker of your own. Everything lives in .node-red/ inside the
// project (git-ignored): settings, flows, credentials, the face store, the demo clip, the admin login.
// The package is linked into that user directory (no network needed) and examples/flows.json becomes
// the flow file on first start.
//
// The editor and the admin API (the Face Library's with it) ask for a login: user `admin` and a
// password generated on the first start, printed once and kept in admin-auth.json in the user
// directory (mode 0600); FACEWATCH_ADMIN_PASSWORD or `npm start -- --admin-password X` sets one of your
// own. Node-RED runs with start-settings.js, written here at every start: settings.js's settings, with
// this login added when settings.js sets no adminAuth of its own (so a settings.js written by an older
// npm start, which had none, does not leave the editor open).
//
// What the example flow needs and you left unset is set here:
// - FACEWATCH_MQTT_URL: the broker at 127.0.0.1:1883 when one answers there (FACEWATCH_PROBE_MQTT_URL
//   asks another address), else an embedded broker (aedes) on a free loopback port, in this process;
// - FACEWATCH_CAMERA_URL: a demo camera, a looped clip of face-api's sample photos made with ffmpeg
//   (once, in the user directory) and served from this process as an MJPEG camera over HTTP on
//   127.0.0.1; without ffmpeg it says how to install it;
// - FACEWATCH_HA_DISCOVERY=false (no Home Assistant announcements from a demo), FACEWATCH_SAMPLES (the
//   sample photos), FACEWATCH_ENROL_DIR (the folder the flow's "import folder" enrols from).
//
// Environment: FACEWATCH_HOST (default 127.0.0.1), FACEWATCH_PORT (default 1880),
// FACEWATCH_USER_DIR (default .node-red), FACEWATCH_RESET_FLOWS=1 to reload the example flow,
// FACEWATCH_ADMIN_PASSWORD (the admin password of your own), FACEWATCH_MALLOC=glibc (keep glibc's malloc
// where jemalloc is installed: see scripts/allocator.mjs).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatorEnv } from './allocator.mjs';
import { brokerAnswers, startEmbeddedBroker } from './demo-broker.mjs';
import { demoClip, hasFfmpeg, INSTALL_FFMPEG, startDemoCamera } from './demo-camera.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const userDir = path.resolve(root, process.env.FACEWATCH_USER_DIR ?? '.node-red');
// Paths inside the project are shown relative to it, others in full; never a password of a URL.
function shownPath(p) {
  return path.relative(root, p).startsWith('..') ? p : path.relative(root, p) || '.';
}
const shown = shownPath;
const host = process.env.FACEWATCH_HOST ?? '127.0.0.1';
const port = Number(process.env.FACEWATCH_PORT ?? 1880);

/** The admin password given on the command line (`npm start -- --admin-password X`), if any. */
function passwordArgument(args) {
  let password;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--admin-password') {
      password = args[++i];
      if (password === undefined) fail('start: --admin-password needs a value');
    } else if (arg.startsWith('--admin-password=')) password = arg.slice('--admin-password='.length);
    else fail(`start: unknown option ${arg} (the only option is --admin-password <password>)`);
  }
  return password;
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

const ownPassword =
  passwordArgument(process.argv.slice(2)) ?? (process.env.FACEWATCH_ADMIN_PASSWORD || undefined);
const ownPasswordFrom = process.argv.slice(2).length ? '--admin-password' : 'FACEWATCH_ADMIN_PASSWORD';
if (ownPassword !== undefined && ownPassword.length < 8)
  fail(`start: the admin password (${ownPasswordFrom}) must have at least 8 characters`);

if (!existsSync(path.join(root, 'dist', 'nodes'))) {
  console.error('start: dist/ is missing; run `npm install` (or `npm run build`) first');
  process.exit(1);
}

mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
const link = path.join(userDir, 'node_modules', pkg.name);
rmSync(link, { recursive: true, force: true });
symlinkSync(root, link, 'dir');
writeFileSync(
  path.join(userDir, 'package.json'),
  JSON.stringify(
    { name: 'facewatch-user-dir', private: true, dependencies: { [pkg.name]: `file:${root}` } },
    null,
    2,
  ),
);

const settingsFile = path.join(userDir, 'settings.js');
if (!existsSync(settingsFile)) {
  writeFileSync(
    settingsFile,
    `// Generated by npm start. Edit freely: it is not overwritten.
// Host and port come from FACEWATCH_HOST / FACEWATCH_PORT (see the README's "Securing FaceWatch").
// The admin login: npm start adds adminAuth with the user admin and the password kept in
// admin-auth.json (start-settings.js does it) unless you set an adminAuth of your own here.
module.exports = {
  uiHost: process.env.FACEWATCH_HOST || '127.0.0.1',
  uiPort: Number(process.env.FACEWATCH_PORT || 1880),
  flowFile: 'flows.json',
  flowFilePretty: true,
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
  editorTheme: { projects: { enabled: false }, palette: { catalogues: [] }, tours: false, codeEditor: { lib: 'monaco' } },
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
`,
  );
}

// The admin login. Node-RED only ever sees its bcrypt hash; the generated password is kept (mode 0600)
// so that you can look it up, a password of your own is not kept at all.
const bcrypt = require('bcryptjs');
const USERNAME = 'admin';
const authFile = path.join(userDir, 'admin-auth.json');
const readLogin = () => {
  try {
    const login = JSON.parse(readFileSync(authFile, 'utf8'));
    return typeof login?.hash === 'string' && typeof login?.username === 'string' ? login : undefined;
  } catch {
    return undefined;
  }
};
const writeLogin = (login) => {
  const tmp = `${authFile}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, authFile);
};
// A settings.js with an adminAuth of its own (yours) keeps it, and no login of npm start's is made.
let ownAdminAuth = false;
try {
  ownAdminAuth = Boolean(require(settingsFile).adminAuth);
} catch (err) {
  fail(`start: ${shownPath(settingsFile)} cannot be read: ${err.message}`);
}
if (ownAdminAuth && ownPassword !== undefined)
  console.log(`start: ${ownPasswordFrom} is not used: ${shownPath(settingsFile)} sets its own adminAuth`);
let generatedPassword;
let login = readLogin();
if (!ownAdminAuth && ownPassword !== undefined) {
  login = { username: USERNAME, hash: bcrypt.hashSync(ownPassword, 10), source: ownPasswordFrom };
  writeLogin(login);
} else if (!ownAdminAuth && !login) {
  generatedPassword = randomBytes(18).toString('base64url');
  login = { username: USERNAME, hash: bcrypt.hashSync(generatedPassword, 10), password: generatedPassword };
  writeLogin(login);
}
if (existsSync(authFile)) chmodSync(authFile, 0o600);

// Node-RED's settings: settings.js's, with the admin login when settings.js sets no adminAuth.
const startSettings = path.join(userDir, 'start-settings.js');
writeFileSync(
  startSettings,
  `// Written by npm start at every start: edit settings.js, not this file.
// Node-RED's settings are those of settings.js; when settings.js sets no adminAuth (one written by an
// older npm start had none), the editor and the admin API ask for the login kept in admin-auth.json.
const fs = require('fs');
const path = require('path');
const settings = require('./settings.js');
if (!settings.adminAuth) {
  const login = JSON.parse(fs.readFileSync(path.join(__dirname, 'admin-auth.json'), 'utf8'));
  settings.adminAuth = {
    type: 'credentials',
    users: [{ username: login.username, password: login.hash, permissions: '*' }],
  };
}
module.exports = settings;
`,
);

const flowFile = path.join(userDir, 'flows.json');
if (!existsSync(flowFile) || process.env.FACEWATCH_RESET_FLOWS === '1') {
  copyFileSync(path.join(root, 'examples', 'flows.json'), flowFile);
}

const samples = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
// FACEWATCH_NODE_RED: another node-red package folder to run (the Node-RED 5 tests use it).
const red = path.join(
  process.env.FACEWATCH_NODE_RED
    ? path.resolve(process.env.FACEWATCH_NODE_RED)
    : path.dirname(require.resolve('node-red/package.json')),
  'red.js',
);
const env = {
  ...process.env,
  FACEWATCH_HOST: host,
  FACEWATCH_PORT: String(port),
  FACEWATCH_SAMPLES: process.env.FACEWATCH_SAMPLES || samples,
  FACEWATCH_ENROL_DIR: process.env.FACEWATCH_ENROL_DIR || path.join(userDir, 'enrol'),
  FACEWATCH_HA_DISCOVERY: process.env.FACEWATCH_HA_DISCOVERY || 'false',
};
// jemalloc where it is installed, else glibc's malloc with two arenas (scripts/allocator.mjs).
const allocator = allocatorEnv(process.env);
Object.assign(env, allocator.vars);
mkdirSync(env.FACEWATCH_ENROL_DIR, { recursive: true });

let broker = 'yours (FACEWATCH_MQTT_URL)';
let embedded;
if (!env.FACEWATCH_MQTT_URL) {
  const probe = process.env.FACEWATCH_PROBE_MQTT_URL || 'mqtt://127.0.0.1:1883';
  if (await brokerAnswers(probe)) {
    env.FACEWATCH_MQTT_URL = probe;
    broker = 'the one that answers there';
  } else {
    embedded = await startEmbeddedBroker();
    env.FACEWATCH_MQTT_URL = embedded.url;
    broker = `embedded (aedes, in this process): none answered at ${probe}`;
  }
}

const redacted = (url) => url.replace(/(:\/\/[^/:@\s]*):[^@/\s]*@/, '$1:***@');

let camera = `${redacted(env.FACEWATCH_CAMERA_URL ?? '')}  yours (FACEWATCH_CAMERA_URL)`;
let demoCamera;
if (!env.FACEWATCH_CAMERA_URL) {
  if (hasFfmpeg()) {
    const photos = readdirSync(samples)
      .filter((f) => /^sample\d+\.jpg$/.test(f))
      .sort()
      .map((f) => path.join(samples, f));
    try {
      const clip = demoClip(photos, path.join(userDir, 'demo', 'camera.mkv'));
      demoCamera = await startDemoCamera(clip);
      env.FACEWATCH_CAMERA_URL = demoCamera.url;
      camera = `${demoCamera.url}  demo: an MJPEG camera in this process showing face-api's sample photos in a loop (${shown(clip)}), unknown faces until you enrol them`;
    } catch (err) {
      console.log(err.message);
      camera = '-  none (the demo camera could not be started)';
    }
  } else {
    console.log(INSTALL_FFMPEG);
    camera = '-  none (no ffmpeg)';
  }
}

const loginLine = ownAdminAuth
  ? `adminAuth of ${shown(settingsFile)} (yours)`
  : generatedPassword
    ? `user ${login.username}, password ${generatedPassword}  (generated now and shown only this once; kept in ${shown(authFile)})`
    : ownPassword !== undefined
      ? `user ${login.username}, your password (${ownPasswordFrom}; only its hash is kept, in ${shown(authFile)})`
      : login.password
        ? `user ${login.username}, password in ${shown(authFile)}`
        : `user ${login.username}, your password (set with ${login.source ?? 'FACEWATCH_ADMIN_PASSWORD'}; delete ${shown(authFile)} for a new generated one)`;

const base = `http://${host}:${port}`;
console.log(
  [
    'FaceWatch:',
    `  editor        ${base}/`,
    `  Face Library  ${base}/facewatch/`,
    `  login         ${loginLine}`,
    `  MQTT broker   ${redacted(env.FACEWATCH_MQTT_URL)}  ${broker}; events on facewatch/events`,
    `  camera        ${camera}`,
    `  enrol folder  ${shown(env.FACEWATCH_ENROL_DIR)}  (one sub-folder of photos per person)`,
    `  user dir      ${shown(userDir)}`,
    `  memory        ${allocator.line}`,
  ].join('\n'),
);

// A password of your own goes only into the hash above, not into Node-RED's environment (where a
// flow could read it).
delete env.FACEWATCH_ADMIN_PASSWORD;
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', startSettings], {
  cwd: root,
  stdio: 'inherit',
  env,
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  // The demo camera and the embedded broker stop with Node-RED.
  void Promise.allSettled([demoCamera?.close(), embedded?.close()]).finally(() =>
    process.exit(code ?? (signal ? 1 : 0)),
  );
});

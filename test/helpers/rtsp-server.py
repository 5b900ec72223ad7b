#!/usr/bin/env python3
"""A real RTSP server for the camera tests: GStreamer's RTSP server on 127.0.0.1 serving one H.264
file (TCP and UDP transports), optionally behind Basic authentication. Prints "READY <port>" once
listening; SIGTERM or SIGINT stops it. Started by test/helpers/rtsp.ts."""
import sys, signal, argparse
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib

p = argparse.ArgumentParser()
p.add_argument('--file', required=True)
p.add_argument('--port', type=int, default=0)
p.add_argument('--mount', default='/clip')
p.add_argument('--user', default='')
p.add_argument('--password', default='')
a = p.parse_args()
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(str(a.port))
factory = GstRtspServer.RTSPMediaFactory()
loc = a.file.replace('\\', '\\\\').replace('"', '\\"')
factory.set_launch(f'( filesrc location="{loc}" ! qtdemux name=d d.video_0 ! queue ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )')
if a.user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string('media.factory.role', 'user')
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
    server.set_auth(auth)
    perms = GstRtspServer.RTSPPermissions()
    perms.add_permission_for_role('user', 'media.factory.access', True)
    perms.add_permission_for_role('user', 'media.factory.construct', True)
    factory.set_permissions(perms)
server.get_mount_points().add_factory(a.mount, factory)
server.attach(None)
print(f'READY {server.get_bound_port()}', flush=True)
loop = GLib.MainLoop()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
loop.run()

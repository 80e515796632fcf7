#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `meson install --destdir` of the build directory under test lays out what
# a distribution ships, where it ships it: the plugin in GStreamer's plugin
# directory when the prefix is GStreamer's (else PREFIX/LIBDIR/gstreamer-1.0),
# mesh-tracker and mesh-hashes in BINDIR, the systemd unit in systemd's unit
# directory when the prefix is systemd's (else PREFIX/lib/systemd/system), the sample configuration in SYSCONFDIR/gst-mesh, the manual
# pages in MANDIR; the test origin is not installed. The expected paths are
# worked out here from the build options and pkg-config, not taken from the
# build files. The installed tools print the project's version, the
# installed sample configuration loads, the manual pages render without
# warnings, and the unit passes `systemd-analyze verify` (when installed).
#
#   test-install.py BUILD_DIR
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True,
                          **kwargs)


def pkg_variable(package, variable):
    try:
        return run('pkg-config', '--variable=' + variable, package).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return ''


def build_options(build):
    out = run('meson', 'introspect', '--buildoptions', build).stdout
    return {o['name']: o['value'] for o in json.loads(out)}


def expected_paths(build):
    opts = build_options(build)
    prefix = opts['prefix']

    def under_prefix(d):
        return d if os.path.isabs(d) else os.path.join(prefix, d)

    plugindir = opts['plugins-install-dir']
    if not plugindir:
        if prefix == pkg_variable('gstreamer-1.0', 'prefix'):
            plugindir = pkg_variable('gstreamer-1.0', 'pluginsdir')
        else:
            plugindir = os.path.join(under_prefix(opts['libdir']), 'gstreamer-1.0')
    unitdir = opts['systemd-system-unit-dir']
    if not unitdir:
        if prefix == pkg_variable('systemd', 'prefix'):
            unitdir = pkg_variable('systemd', 'systemdsystemunitdir')
        else:
            unitdir = os.path.join(prefix, 'lib/systemd/system')
    bindir = under_prefix(opts['bindir'])
    mandir = under_prefix(opts['mandir'])
    return {
        'plugin': os.path.join(plugindir, 'libgstmesh.so'),
        'mesh-tracker': os.path.join(bindir, 'mesh-tracker'),
        'mesh-hashes': os.path.join(bindir, 'mesh-hashes'),
        'unit': os.path.join(unitdir, 'mesh-tracker.service'),
        'config': os.path.join(under_prefix(opts['sysconfdir']),
                               'gst-mesh/tracker.conf'),
        'man mesh-tracker': os.path.join(mandir, 'man1/mesh-tracker.1'),
        'man mesh-hashes': os.path.join(mandir, 'man1/mesh-hashes.1'),
        'man mesh-tracker.conf': os.path.join(mandir, 'man5/mesh-tracker.conf.5'),
    }, prefix, bindir


def check(condition, what):
    if not condition:
        print('FAIL:', what)
        sys.exit(1)
    print('ok:', what)


def verify_unit(unit, bindir, destdir):
    # the unit as installed, but running the staged tracker (verify checks
    # that ExecStart is executable)
    with tempfile.TemporaryDirectory(prefix='mesh-unit-') as unitdir:
        path = os.path.join(unitdir, 'mesh-tracker.service')
        with open(path, 'w') as f:
            f.write(unit.replace(f'{bindir}/mesh-tracker', f'{destdir}{bindir}/mesh-tracker'))
        r = subprocess.run(['systemd-analyze', 'verify', '--man=no', path],
                           capture_output=True, text=True)
        check(r.returncode == 0 and not r.stderr.strip(),
              f'systemd-analyze verify: {r.stderr.strip() or "clean"}')
        r = subprocess.run(['systemd-analyze', 'security', '--offline=yes', path],
                           capture_output=True, text=True)
        level = r.stdout.rsplit('Overall exposure level for mesh-tracker.service:', 1)[-1].split()
        exposure = float(level[0]) if level else 10.0
        check(exposure <= 2.0, f'systemd-analyze security: exposure {exposure} (at most 2.0)')


def main():
    build = os.path.abspath(sys.argv[1])
    version = json.loads(run('meson', 'introspect', '--projectinfo',
                             build).stdout)['version']
    paths, prefix, bindir = expected_paths(build)
    with tempfile.TemporaryDirectory(prefix='mesh-install-') as destdir:
        run('meson', 'install', '-C', build, '--no-rebuild', '--quiet',
            '--destdir', destdir)
        staged = {k: destdir + v for k, v in paths.items()}
        for what, path in staged.items():
            check(os.path.isfile(path), f'{what} at {paths[what]}')
        check(not os.path.exists(os.path.join(destdir + bindir, 'mesh-origin')),
              'the test origin is not installed')
        for tool in ('mesh-tracker', 'mesh-hashes'):
            check(os.access(staged[tool], os.X_OK), f'{tool} is executable')
            out = run(staged[tool], '--version').stdout.strip()
            check(out == f'{tool} {version}', f'{tool} --version: "{out}"')
        sample = run(staged['mesh-tracker'], '--config', staged['config'],
                     '--print-config').stdout
        check('\n#listen=127.0.0.1:8765\n' in sample and
              not any(line and line[0] not in '#[' for line in sample.splitlines()),
              'the installed sample loads and sets nothing')
        unit = open(staged['unit']).read()
        check(f'ExecStart={bindir}/mesh-tracker ' in unit, 'the unit runs the installed tracker')
        for key in ('DynamicUser=yes', 'ProtectSystem=strict',
                    'LoadCredential=token-secret:', '%d/token-secret',
                    'ExecReload=kill -HUP $MAINPID'):
            check(key in unit, f'the unit has {key}')
        if shutil.which('man'):
            for what in ('man mesh-tracker', 'man mesh-hashes', 'man mesh-tracker.conf'):
                r = subprocess.run(['man', '--warnings', '-l', staged[what]],
                                   capture_output=True, text=True,
                                   env=dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8'))
                check(r.returncode == 0 and not r.stderr.strip() and 'NAME' in r.stdout,
                      f'{what} renders without warnings {r.stderr.strip()}')
        if shutil.which('systemd-analyze'):
            verify_unit(unit, bindir, destdir)
        else:
            print('skipped: systemd-analyze verify (systemd is not installed)')


if __name__ == '__main__':
    main()

"""pumpctl keys: list the device keys this computer holds, export a clinician's key file, import one."""
import json
import os

from host_tools import exits, keys


def cmd_list(args):
    folder = keys.keys_dir()
    found = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.endswith(".json"):
            continue
        try:
            k = keys.read_file(os.path.join(folder, name))
        except keys.KeyStoreError as e:
            found.append({"file": name, "error": str(e)})
            continue
        entry = {"device": k.device_id, "roles": list(k.roles()), "file": k.path}
        if k.secret is not None:
            entry["fingerprint"] = keys.fingerprint(k.secret)
        found.append(entry)
    if args.json:
        print(json.dumps({"folder": folder, "keys": found}, indent=2, sort_keys=True))
        return exits.OK
    if not found:
        print("no device keys in %s (deploy makes one for each pump it provisions)" % folder)
        return exits.OK
    print("device keys in %s (the secrets are never shown):" % folder)
    for e in found:
        if "error" in e:
            print("  %-18s %s" % (e["file"], e["error"]))
        else:
            print("  %-18s roles: %s%s" % (e["device"], ", ".join(e["roles"]),
                                          ("  fingerprint %s" % e["fingerprint"]) if "fingerprint" in e else ""))
    return exits.OK


def cmd_export(args):
    key = keys.load(args.device)
    if key is None:
        return exits.error("no key for pump %s in %s" % (args.device, keys.keys_dir()),
                           "pumpctl keys lists the ones held here")
    if os.path.exists(args.output) and not args.force:
        return exits.error("%s exists" % args.output, "choose another file or pass --force")
    keys.export(key, args.role, args.output)
    print("wrote %s: pump %s, roles %s only (readable by you alone; hand it over in person)"
          % (args.output, args.device, ", ".join(args.role)))
    return exits.OK


def cmd_import(args):
    key = keys.read_file(args.file)
    have = keys.load(key.device_id)
    if have is not None and not args.force:
        return exits.error("this computer already holds a key for pump %s" % key.device_id,
                           "pass --force to replace it")
    key.save(keys.path_for(key.device_id))
    print("imported the key of pump %s (roles %s) into %s" % (key.device_id, ", ".join(key.roles()),
                                                                keys.keys_dir()))
    return exits.OK


def _run(fn):
    def run(args):
        try:
            return fn(args)
        except keys.KeyStoreError as e:
            return exits.error(str(e), "check the file, or list the keys with pumpctl keys")
    return run


def add_parsers(sub):
    p = sub.add_parser("keys", help="device keys this computer holds (made by deploy; see docs/security.md)")
    ksub = p.add_subparsers(dest="keys_command", metavar="KEYS_COMMAND")
    p.set_defaults(func=_run(cmd_list), offline=True, json=False)
    s = ksub.add_parser("list", help="the pumps whose keys are here, and the roles each opens")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_run(cmd_list), offline=True)
    s = ksub.add_parser("export", help="write a key file that opens only some roles (a clinician's)")
    s.add_argument("device", help="the pump's device id (pumpctl hello shows it)")
    s.add_argument("--role", action="append", choices=("clinician", "service"), default=None,
                   help="a role the file opens (repeatable; default clinician)")
    s.add_argument("-o", "--output", required=True, help="the file to write (mode 600)")
    s.add_argument("--force", action="store_true", help="overwrite the output file")
    s.set_defaults(func=_run(lambda a: cmd_export(_default_roles(a))), offline=True)
    s = ksub.add_parser("import", help="keep a key file given to you (from keys export, or a whole key)")
    s.add_argument("file")
    s.add_argument("--force", action="store_true", help="replace a key already held for that pump")
    s.set_defaults(func=_run(cmd_import), offline=True)


def _default_roles(args):
    if not args.role:
        args.role = ["clinician"]
    return args

"""Fail if installing the test tools changed any package the main-job install had chosen.

Usage: same_set.py BEFORE_FREEZE AFTER_FREEZE (``pip freeze`` outputs). Packages may be added
(the test tools and their own needs) but none of the main job's may change version or vanish, so
the suite runs on exactly what ``pip install -e '.[demo,llama]'`` gives a user today.
"""

import sys


def read(path: str) -> dict[str, str]:
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#") and "==" in line:
                name, _, version = line.partition("==")
                out[name.lower().replace("_", "-")] = version
    return out


before, after = read(sys.argv[1]), read(sys.argv[2])
changed = {
    name: (version, after.get(name))
    for name, version in before.items()
    if after.get(name) != version
}
if changed:
    for name, (old, new) in sorted(changed.items()):
        print(f"the test tools changed {name}: {old} -> {new}", file=sys.stderr)
    sys.exit(1)
print(
    f"main-job set unchanged by the test tools ({len(before)} packages, e.g. huggingface-hub=={before.get('huggingface-hub')})"
)

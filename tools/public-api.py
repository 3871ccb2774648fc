#!/usr/bin/env python3
"""Brings each project's PublicAPI.Unshipped.txt up to date from a build log (`dotnet format analyzers` cannot here).

    dotnet build src/Retain -c Release --no-incremental > build.log; python3 tools/public-api.py build.log

Adds the symbol of every RS0016 ("Symbol 'X' is not part of the declared public API") and removes that of every
RS0017 ("Symbol 'X' is part of the declared public API, but is either not public or could not be found") to or from
the file beside the project the message names, then sorts the file. Build again until no such error is left.
"""
import collections
import os
import re
import sys

MESSAGE = re.compile(r"error (RS0016|RS0017): Symbol '(.*)' is (?:not )?part of the declared (?:public )?API.*\[(.+?\.csproj)")


def main(log_path):
    changes = collections.defaultdict(lambda: (set(), set()))
    with open(log_path, encoding='utf-8', errors='replace') as log:
        for line in log:
            match = MESSAGE.search(line)
            if not match:
                continue
            code, symbol, project = match.groups()
            added, removed = changes[os.path.join(os.path.dirname(project), 'PublicAPI.Unshipped.txt')]
            (added if code == 'RS0016' else removed).add(symbol)
    for path, (added, removed) in sorted(changes.items()):
        with open(path, encoding='utf-8') as f:
            lines = {l.rstrip('\n') for l in f if l.strip()}
        header = [l for l in lines if l.startswith('#')]
        symbols = ({l for l in lines if not l.startswith('#')} - removed) | added
        with open(path, 'w', encoding='utf-8', newline='\n') as f:
            f.write(''.join(l + '\n' for l in sorted(header) + sorted(symbols)))
        print(f'{path}: +{len(added)} -{len(removed)}, {len(symbols)} symbols')
    if not changes:
        print('no RS0016 or RS0017 in the log')


if __name__ == '__main__':
    main(sys.argv[1])

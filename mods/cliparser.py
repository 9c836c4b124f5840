"""The argument parser of every MODS command: a usage error is one line and exit status 2."""

import argparse


class Parser(argparse.ArgumentParser):
    """:class:`argparse.ArgumentParser` that reports errors in one line and exits with 2."""

    def error(self, message):
        self.exit(2, "%s: error: %s\n" % (self.prog, message))

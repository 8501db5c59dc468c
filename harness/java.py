"""Is Java 11+ available for TorchServe's frontend? Standard library only, so it runs before any install.

    python3 -m harness.java    # exit 0 when fine, else 1 with a message saying what to do
"""

import os
import re
import shutil
import subprocess
import sys

MINIMUM = 11


def java_problem():
    """None when Java 11+ is on PATH (or under JAVA_HOME), else a sentence saying what to do."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        return ("Java was not found. TorchServe's frontend runs on the JVM and needs Java "
                f"{MINIMUM} or newer: install it (Debian/Ubuntu: apt-get install "
                "openjdk-17-jre-headless) or set JAVA_HOME.")
    output = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(?:1\.)?(\d+)', output)
    if not match or int(match.group(1)) < MINIMUM:
        return (f"TorchServe needs Java {MINIMUM} or newer, but {java} reports: "
                f"{output.strip().splitlines()[0] if output.strip() else 'nothing'}")
    return None


if __name__ == "__main__":
    problem = java_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
    sys.exit(1 if problem else 0)

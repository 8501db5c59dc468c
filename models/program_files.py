"""A model file brought from elsewhere, read as a zip without running any of it: its format by
content, its entries, and which Python globals its pickles name.

torch.export.save, torch.jit.save and torch.save all write a zip whose entries share one
top folder; the entries, not the file's suffix, say which of the three it is.
"""

import io
import pickle
import re
import zipfile

EXPORTED_PROGRAM = "exported_program"  # torch.export.save
TORCHSCRIPT = "torchscript"  # torch.jit.save
STATE_DICT = "state_dict"  # torch.save(model.state_dict())
FORMATS = (EXPORTED_PROGRAM, TORCHSCRIPT, STATE_DICT)


class ProgramError(ValueError):
    """A brought model file that is refused: not one of the formats, or content that is unsafe to
    load; the message names the entry."""


class ModelZip:
    """A model file's zip entries, named without their top folder."""

    def __init__(self, data: bytes, what: str):
        self.what = what
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise ProgramError(f"{what}: not a zip archive, so none of torch.export.save, "
                               "torch.jit.save or torch.save (a legacy torch.save with "
                               "_use_new_zipfile_serialization=False is not read)") from None
        names = [info.filename for info in archive.infolist()]
        # A second entry of the same name could be the one a loader reads after we checked the first.
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ProgramError(f"{what}: entry {twice[0]} appears twice")
        roots = {name.split("/", 1)[0] for name in names}
        if len(roots) != 1 or any("/" not in name for name in names):
            raise ProgramError(f"{what}: entries are not all under one top folder, as torch "
                               "writes them")
        self.archive = archive
        self.root = roots.pop()
        self.names = [name.split("/", 1)[1] for name in names]

    def read(self, name: str) -> bytes:
        """Entry name (without the top folder) → its bytes."""
        return self.archive.read(f"{self.root}/{name}")

    def where(self, name: str) -> str:
        """Entry name → how a message names it: the file and the entry."""
        return f"{self.what}: entry {self.root}/{name}"


def file_format(model_zip: ModelZip) -> str:
    """A model file's zip → EXPORTED_PROGRAM, TORCHSCRIPT or STATE_DICT, by its entries; raises
    ProgramError for any other zip."""
    names = set(model_zip.names)
    if "archive_format" in names:
        return EXPORTED_PROGRAM
    # torch.load hands any zip with constants.pkl to torch.jit.load, so it is TorchScript here too.
    if "data.pkl" in names and ("constants.pkl" in names or any(
            name.startswith("code/") for name in names)):
        return TORCHSCRIPT
    if "data.pkl" in names:
        return STATE_DICT
    raise ProgramError(f"{model_zip.what}: a zip, but not one written by torch.export.save, "
                       "torch.jit.save or torch.save")


class Inert:
    """What every allowed global becomes while a pickle is scanned: it accepts any call, state or
    item and does nothing, so scanning runs no code."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return Inert()

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, item):
        pass

    def extend(self, items):
        pass


class GlobalsScan(pickle.Unpickler):
    """Unpickles with every global replaced by Inert, refusing those `allowed` does not accept."""

    def __init__(self, data: bytes, allowed, where: str):
        super().__init__(io.BytesIO(data))
        self.allowed, self.where, self.found = allowed, where, set()

    def find_class(self, module, name):
        full = f"{module}.{name}"
        if not self.allowed(full):
            raise ProgramError(f"{self.where} names the Python global {full}, which no "
                               "model file needs; refused before anything loads it")
        self.found.add(full)
        return Inert

    def persistent_load(self, pid):
        return Inert()  # tensor storages: their bytes stay unread


def pickle_globals(data: bytes, allowed, where: str) -> set:
    """A pickle's bytes and a test of a global's dotted name → the globals it names; raises
    ProgramError naming the first global `allowed` refuses, or a pickle that does not parse.

    Python's own unpickler walks the opcodes, so STACK_GLOBAL and memoized names are read
    exactly as a loader would read them; the globals it resolves are inert stand-ins.
    """
    scan = GlobalsScan(data, allowed, where)
    try:
        scan.load()
    except ProgramError:
        raise
    except Exception as error:  # a truncated or hand-made pickle
        raise ProgramError(f"{where}: not a pickle torch wrote ({type(error).__name__}: "
                           f"{error})") from None
    return scan.found


def weights_only_refusal(error: Exception) -> str:
    """torch.load(weights_only=True)'s error → what it refused, in a few words: torch's message is a
    page long, and its line naming the refused global says it all."""
    named = re.search(r"unsupported (?:global: )?GLOBAL (\S+)", str(error), re.IGNORECASE)
    if named:
        return f"it pickles {named.group(1)}"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"

#!/usr/bin/env python3
"""Write xlate's legacy PyTorch (``pytorch_model.bin``, ``torch.save``) fixtures under ``Fixtures/pytorch/``.

Run from the repository root::

    python Fixtures/generate_bin.py

Writes, replacing what was there:

* ``pytorch/marian-tiny/``       ``Fixtures/marian/tied-swish`` as transformers 4.x wrote it with
  ``save_pretrained(safe_serialization=False)``: ``torch.save`` of ``model.state_dict()`` (an OrderedDict with its
  ``_metadata``), tied weights (``model.{encoder,decoder}.embed_tokens.weight``, ``lm_head.weight``) one storage under
  every name. Plus config.json and generation_config.json, no safetensors.
* ``pytorch/marian-tiny-fp16/``  ``Fixtures/marian/tied-keys-gelu-fp16`` (float16, ``embed_positions`` float32) as
  later 4.x releases wrote it: a plain dict of the same tensors (no ``_metadata``).
* ``pytorch/t5-relu-tied/``      ``Fixtures/t5/relu-tied`` (OrderedDict); the CLI tests add its ``spiece.model``.
* ``pytorch/views.bin``          views of one storage (offsets, strides, a scalar, an empty tensor, an alias), float16,
  bfloat16, int64 and an ``nn.Parameter`` (``_rebuild_parameter``); ``views-zip64.bin`` is the same archive rewritten
  by Python's zipfile with ZIP64 size/offset fields in every entry.
* ``pytorch/corrupt/*.bin``      torch-layout archives that lie: a storage entry shorter than its storage, a tensor
  view past its storage's end, a deflate-compressed storage, a dict where a tensor belongs, 1,100 views of one
  storage that together read 70 MB from a 144 KB file.
* ``pytorch/malicious/*.bin``    pickles that would run code when unpickled (``os.system``, ``builtins.eval`` at the top,
  ``os.system`` nested in a state dict after a real tensor, ``builtins.exec`` through protocol 4's STACK_GLOBAL, the
  INST opcode). **Never unpickle them**: this script only inspects them with ``pickletools.genops`` (which parses)
  and checks that ``torch.load(weights_only=True)`` (which never imports what the file names) refuses them.

Every model tensor equals the one in the source fixture's model.safetensors (same dtype and bytes); the
script checks that after writing, loading with ``torch.load(weights_only=True)``. ``torch.save`` writes a random
``.data/serialization_id``; it is replaced by a fixed one (CRC fixed too), so reruns give the same bytes.

Pinned versions: Fixtures/requirements.txt (torch 2.15.0, transformers 5.23.0, safetensors 0.8.0).
"""

import collections
import io
import os
import pickle
import pickletools
import shutil
import struct
import sys
import zipfile
import zlib

import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForSeq2SeqLM

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pytorch")
PINNED = {"torch": "2.15.0", "transformers": "5.23.0"}


# MARK: - Model checkpoints ------------------------------------------------------------------------

def saved_state_dict(source, ordered):
    """The dict transformers 4.x's ``save_pretrained(safe_serialization=False)`` handed to ``torch.save``, holding
    the tensors of ``source/model.safetensors``.

    Keys in ``model.state_dict()`` order; a tied key (``_tied_weights_keys``) is the very tensor of its target, so
    ``torch.save`` writes one storage for all of them. Keys the safetensors file lacks and that are not tied are
    left out (4.x dropped ``embed_positions`` through ``_keys_to_ignore_on_save``); keys it has are all kept.
    ``ordered``: ``model.state_dict()`` itself (OrderedDict with ``_metadata``, transformers < 4.35), else a plain
    dict (later 4.x shards).
    """
    config = AutoConfig.from_pretrained(source)
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(config)
    reference = model.state_dict()
    stored = load_file(os.path.join(source, "model.safetensors"))
    tied = dict(model._tied_weights_keys) if config.tie_word_embeddings else {}
    state = collections.OrderedDict() if ordered else {}
    for name in reference:
        target = tied.get(name)
        if target is not None:
            if name in stored:
                assert torch.equal(stored[name], stored[target]), f"{name} is tied to {target} but differs"
            state[name] = state[target]
        elif name in stored:
            state[name] = stored[name].clone()  # its own storage, whatever safetensors' loader shares
    assert set(stored) <= set(state), f"not in the model: {set(stored) - set(state)}"
    if ordered:
        state._metadata = reference._metadata
    return state, stored


def write_model(name, source, ordered):
    folder = os.path.join(OUT, name)
    os.makedirs(folder)
    for file in ("config.json", "generation_config.json"):
        shutil.copy(os.path.join(source, file), folder)
    state, stored = saved_state_dict(source, ordered)
    path = os.path.join(folder, "pytorch_model.bin")
    torch.save(state, path)
    fix_serialization_id(path)

    loaded = torch.load(path, weights_only=True)
    assert type(loaded) is type(state) and list(loaded) == list(state)
    for key, tensor in stored.items():
        assert loaded[key].dtype == tensor.dtype and torch.equal(loaded[key], tensor), key
    storages = {}
    for key, tensor in loaded.items():
        storages.setdefault(tensor.untyped_storage().data_ptr(), []).append(key)
    shared = [keys for keys in storages.values() if len(keys) > 1]
    print(f"{path}: {len(loaded)} tensors, {len(storages)} storages, shared: {shared}")


# MARK: - Small archives ---------------------------------------------------------------------------

def write_views():
    base = torch.arange(24, dtype=torch.float32)  # one storage: 0, 1, ..., 23
    grid = base.view(4, 6)
    state = collections.OrderedDict()
    state["grid"] = grid  # [4, 6], the whole storage
    state["row2"] = grid[2]  # [6], offset 12
    state["columns"] = grid[:, 1:3]  # [4, 2], offset 1, strides (6, 1)
    state["transposed"] = grid.t()  # [6, 4], strides (1, 6)
    state["scalar"] = base[5]  # [], offset 5
    state["empty"] = base[3:3]  # [0], offset 3
    state["grid_again"] = grid  # the same view again: an alias of "grid"
    state["half"] = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float16)
    state["bf16"] = torch.tensor([[1.0, 3.140625]], dtype=torch.bfloat16)
    state["long"] = torch.arange(-2, 3, dtype=torch.int64)
    state["parameter"] = torch.nn.Parameter(torch.tensor([0.25, -0.5]), requires_grad=False)
    path = os.path.join(OUT, "views.bin")
    torch.save(state, path)
    fix_serialization_id(path)
    loaded = torch.load(path, weights_only=True)
    for key, tensor in state.items():
        assert torch.equal(loaded[key], tensor.detach()) and loaded[key].stride() == tensor.stride(), key
    assert any(op.name == "GLOBAL" and arg == "torch._utils _rebuild_parameter" for op, arg, _ in genops(path))

    # The same entries through Python's zipfile with ZIP64_LIMIT at 0: every size and offset goes to the ZIP64
    # extra field (0xFFFFFFFF in the 32-bit fields), as for a checkpoint over 4 GiB.
    zip64 = os.path.join(OUT, "views-zip64.bin")
    limit = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 0
    try:
        rezip(path, zip64)
    finally:
        zipfile.ZIP64_LIMIT = limit
    with zipfile.ZipFile(zip64) as archive:
        assert all(info.file_size == 0 or b"\x01\x00" in info.extra[:2] for info in archive.infolist())
    loaded64 = torch.load(zip64, weights_only=True)
    assert all(torch.equal(loaded64[key], loaded[key]) for key in loaded)
    print(f"{path}, {zip64}: {len(state)} tensors")


class FakeStorage:
    """Pickled as torch's persistent id ``('storage', torch.FloatStorage, key, 'cpu', numel)``."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class FakeTensor:
    """Pickled as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``: a
    torch tensor whose numbers need not be consistent."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args + (False, collections.OrderedDict()))


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel) if isinstance(obj, FakeStorage) else None


def torch_like_archive(path, obj, storages, compress=()):
    """A zip in torch.save's layout (``archive/data.pkl``, ``archive/data/KEY``, ``byteorder``, ``version``)
    holding ``obj`` pickled (protocol 2) and ``storages`` (key → bytes); keys in ``compress`` are deflated."""
    buffer = io.BytesIO()
    TorchLikePickler(buffer, protocol=2).dump(obj)
    entries = [("archive/data.pkl", buffer.getvalue()), ("archive/byteorder", b"little")]
    entries += [(f"archive/data/{key}", data) for key, data in storages.items()]
    entries += [("archive/version", b"3\n")]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            key = name.rsplit("/", 1)[-1]
            info.compress_type = zipfile.ZIP_DEFLATED if name.startswith("archive/data/") and key in compress else zipfile.ZIP_STORED
            archive.writestr(info, data)


def floats(*values):
    return struct.pack(f"<{len(values)}f", *values)


def write_corrupt():
    folder = os.path.join(OUT, "corrupt")
    os.makedirs(folder)
    six = floats(0, 1, 2, 3, 4, 5)
    # The storage claims 6 floats; its entry holds 5.
    torch_like_archive(os.path.join(folder, "short-storage.bin"),
                       collections.OrderedDict(w=FakeTensor(FakeStorage("0", 6), 0, (6,), (1,))), {"0": six[:20]})
    # A [4] view at offset 4 of a 6-float storage reads elements 4…7.
    torch_like_archive(os.path.join(folder, "view-past-storage.bin"),
                       collections.OrderedDict(w=FakeTensor(FakeStorage("0", 6), 4, (4,), (1,))), {"0": six})
    # torch.save stores entries; this one is deflated.
    torch_like_archive(os.path.join(folder, "deflated.bin"),
                       collections.OrderedDict(w=FakeTensor(FakeStorage("0", 6), 0, (6,), (1,))), {"0": six},
                       compress={"0"})
    # A nested dict where a tensor belongs.
    torch_like_archive(os.path.join(folder, "nested-dict.bin"),
                       {"model": collections.OrderedDict(w=FakeTensor(FakeStorage("0", 6), 0, (6,), (1,)))}, {"0": six})
    write_many_views(folder)
    for name in ("short-storage", "view-past-storage", "deflated"):
        try:
            torch.load(os.path.join(folder, name + ".bin"), weights_only=True)
        except Exception as error:  # torch refuses them too (it has its own words for it)
            print(f"corrupt/{name}.bin: torch.load says {type(error).__name__}: {str(error)[:100]}")
        else:
            print(f"corrupt/{name}.bin: torch.load accepts it")


def write_many_views(folder):
    """1,100 different views of one 64 KB storage, each nearly all of it: every view is inside its storage, but
    together they read about 70 MB from a file of 130 KB."""
    count = 16384
    storage = FakeStorage("0", count)
    views = collections.OrderedDict(
        (f"w{i}", FakeTensor(storage, i, (count - i,), (1,))) for i in range(1100))
    torch_like_archive(os.path.join(folder, "many-views.bin"), views, {"0": floats(*range(count))})


# MARK: - Malicious pickles ------------------------------------------------------------------------

class Evil:
    """Reduces to ``function(argument)``: whoever unpickles this calls it."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return (self.function, (self.argument,))


def write_malicious():
    folder = os.path.join(OUT, "malicious")
    os.makedirs(folder)
    payload = "echo xlate-fixture-pwned"  # harmless even if something ever did run it
    cases = {
        "os-system.bin": (Evil(os.system, payload), 2, "posix system"),
        # Protocol 2 writes Python 3's builtins under their Python 2 name, __builtin__.
        "builtins-eval.bin": (Evil(eval, f"__import__('os').system('{payload}')"), 2, "__builtin__ eval"),
        "nested-global.bin": (collections.OrderedDict(weight=torch.ones(2), bias=Evil(os.system, payload)), 2, "posix system"),
        "stack-global-exec.bin": (Evil(exec, f"import os; os.system('{payload}')"), 4, "builtins exec"),
    }
    for name, (obj, protocol, bad_global) in cases.items():
        path = os.path.join(folder, name)
        torch.save(obj, path, pickle_protocol=protocol)  # pickles the reduce value; calls nothing
        fix_serialization_id(path)
        ops = list(genops(path))
        if protocol == 2:
            assert ("GLOBAL", bad_global) in [(op.name, arg) for op, arg, _ in ops], name
        else:  # protocol 4 names globals with two strings and STACK_GLOBAL
            strings = [arg for op, arg, _ in ops if op.name == "SHORT_BINUNICODE"]
            assert "STACK_GLOBAL" in [op.name for op, _, _ in ops] and bad_global.split()[1] in strings, name
        refused_by_torch(path)

    # Protocol 0's INST opcode: imports os.system and calls it with the marked argument. Written by hand.
    inst = b"\x80\x02(X" + struct.pack("<I", len(payload)) + payload.encode() + b"ios\nsystem\n."
    path = os.path.join(folder, "inst-opcode.bin")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in (("archive/data.pkl", inst), ("archive/byteorder", b"little"), ("archive/version", b"3\n")):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    assert "INST" in [op.name for op, _, _ in genops(path)]
    refused_by_torch(path)
    print(f"{folder}: {len(cases) + 1} files, each refused by torch.load(weights_only=True)")


def refused_by_torch(path):
    try:
        torch.load(path, weights_only=True)
    except pickle.UnpicklingError:
        return
    sys.exit(f"{path}: torch.load(weights_only=True) did not refuse it")


# MARK: - Archive helpers --------------------------------------------------------------------------

def genops(path):
    """The opcodes of the archive's data.pkl, parsed only (pickletools never imports or calls)."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        return list(pickletools.genops(archive.read(name)))


def rezip(source, destination):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(destination, "w") as new:
        for info in old.infolist():
            copy = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            new.writestr(copy, old.read(info.filename))


def fix_serialization_id(path):
    """Replaces the random ``.data/serialization_id`` torch.save writes by zeros of the same length, and its CRC
    (in the data descriptor after the data and in the central directory) by theirs."""
    with open(path, "rb") as file:
        data = bytearray(file.read())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/.data/serialization_id"))
        central = archive.start_dir
    old_crc = struct.pack("<I", info.CRC)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    end = start + info.file_size
    fixed = b"0" * info.file_size
    new_crc = struct.pack("<I", zlib.crc32(fixed))
    data[start:end] = fixed
    descriptor = end + (4 if data[end:end + 4] == b"PK\x07\x08" else 0)
    assert data[descriptor:descriptor + 4] == old_crc or info.CRC == 0
    data[descriptor:descriptor + 4] = new_crc if info.CRC else old_crc
    record = data.index(b"PK\x01\x02", central)
    while data[record + 46:record + 46 + len(info.filename)] != info.filename.encode():
        record = data.index(b"PK\x01\x02", record + 4)
    assert data[record + 16:record + 20] == old_crc
    data[record + 16:record + 20] = new_crc if info.CRC else old_crc
    with open(path, "wb") as file:
        file.write(data)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None


def main():
    versions = {"torch": torch.__version__.split("+")[0], "transformers": __import__("transformers").__version__}
    if versions != PINNED and "--allow-other-versions" not in sys.argv:
        sys.exit(f"pinned {PINNED}, found {versions}; pass --allow-other-versions to write anyway")
    torch.set_num_threads(1)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    write_model("marian-tiny", os.path.join(HERE, "marian", "tied-swish"), ordered=True)
    write_model("marian-tiny-fp16", os.path.join(HERE, "marian", "tied-keys-gelu-fp16"), ordered=False)
    write_model("t5-relu-tied", os.path.join(HERE, "t5", "relu-tied"), ordered=True)
    write_views()
    write_corrupt()
    write_malicious()


if __name__ == "__main__":
    main()

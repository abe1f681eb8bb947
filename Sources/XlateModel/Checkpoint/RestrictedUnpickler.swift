/// Element types of torch storages, under their safetensors names.
enum TorchDType: String, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8"
    case bool = "BOOL"

    /// The type of `torch.<name>` (`torch.FloatStorage`, ...), as `torch.save` names a storage's element type.
    init?(storageClass name: String) {
        guard let type = Self.storageClasses[name] else { return nil }
        self = type
    }

    private static let storageClasses: [String: TorchDType] = [
        "DoubleStorage": .f64, "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "LongStorage": .i64,
        "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    var size: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }
}

/// A storage as a pickle names it: `('storage', torch.FloatStorage, key, location, count)`; its bytes are the
/// archive's entry `data/<key>`.
struct TorchStorage: Equatable {
    let key: String
    let dtype: TorchDType
    /// Elements, of `dtype`.
    let count: Int
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a view into a storage.
struct TorchTensor {
    let storage: TorchStorage
    /// In elements.
    let offset: Int
    let shape: [Int]
    /// In elements, one per dimension.
    let strides: [Int]
}

/// The only globals a pickle may name: what `torch.save(state_dict)` writes.
enum TorchGlobal: Equatable {
    case orderedDict  // collections.OrderedDict
    case rebuildTensor  // torch._utils._rebuild_tensor_v2
    case rebuildParameter  // torch._utils._rebuild_parameter
    case storageType(TorchDType)  // torch.FloatStorage, torch.HalfStorage, ...

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", _):
            guard let type = TorchDType(storageClass: name) else { return nil }
            self = .storageType(type)
        default: return nil
        }
    }
}

/// A value the restricted unpickler builds. Containers live in a `PickleHeap` and values refer to them by index:
/// values never nest, so nothing recurses to build, read or free them whatever the file holds, and a container
/// changed after it was memoized is seen changed through every reference, as in Python.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case string(String)
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case global(TorchGlobal)
    case storage(TorchStorage)
    case tensor(TorchTensor)

    /// What the value is, for error messages.
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "a bool"
        case .int: "an int"
        case .string: "a string"
        case .tuple: "a tuple"
        case .list: "a list"
        case .dict: "a dict"
        case .global: "a global"
        case .storage: "a storage"
        case .tensor: "a tensor"
        }
    }
}

/// The containers of one unpickled file.
struct PickleHeap {
    struct Dict {
        /// In insertion order.
        var items: [(key: PickleValue, value: PickleValue)] = []
        /// Made by `collections.OrderedDict()` (the only kind BUILD may touch).
        let ordered: Bool
    }

    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [Dict] = []
}

/// A reader for the `data.pkl` of a `torch.save` archive that never imports or calls anything.
///
/// It knows the pickle opcodes `torch.save(state_dict)` writes (protocol 2, and the protocol-4 forms of the same
/// values) and four kinds of global: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
/// `torch._utils._rebuild_parameter` and the `torch.*Storage` types. REDUCE on those builds data (a dict, a tensor
/// view); BUILD is accepted only on an OrderedDict, whose state (`_metadata`) is ignored. Any other global or
/// opcode is refused, naming it and its byte offset, before anything after it is read.
/// Opcodes: https://github.com/python/cpython/blob/3.11/Lib/pickletools.py
struct RestrictedUnpickler {
    private let bytes: UnsafeRawBufferPointer
    private let path: String
    /// The archive entry, for messages.
    private let entry: String
    private var position = 0
    /// Where the opcode being run starts.
    private var opcodeStart = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var heap = PickleHeap()

    /// Unpickles `bytes` (the archive entry `entry` of the file at `path`): the value STOP returns, and the heap
    /// its containers live in.
    static func load(_ bytes: UnsafeRawBufferPointer, entry: String, path: String) throws(ModelError) -> (PickleValue, PickleHeap) {
        var unpickler = RestrictedUnpickler(bytes: bytes, path: path, entry: entry)
        let root = try unpickler.run()
        return (root, unpickler.heap)
    }

    private init(bytes: UnsafeRawBufferPointer, path: String, entry: String) {
        self.bytes = bytes
        self.path = path
        self.entry = entry
    }

    // MARK: Errors

    private func refused(_ what: String) -> ModelError {
        .unsafePickle(path: path, reason: "\(what) (\(entry), byte \(opcodeStart)) is not allowed")
    }

    private func damaged(_ reason: String) -> ModelError {
        .pytorchCheckpoint(path: path, reason: "\(entry), byte \(opcodeStart): \(reason)")
    }

    // MARK: The opcode loop

    private mutating func run() throws(ModelError) -> PickleValue {
        while position < bytes.count {
            opcodeStart = position
            let opcode = try readByte()
            switch opcode {
            case 0x80:  // PROTO
                let version = try readByte()
                guard version <= 5 else { throw damaged("pickle protocol \(version) is unknown") }
            case 0x95:  // FRAME: the length of the opcodes that follow (protocol 4)
                _ = try read(8)
            case 0x2E:  // STOP
                guard marks.isEmpty, stack.count == 1 else { throw damaged("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case 0x28:  // MARK
                marks.append(stack.count)
            case 0x29:  // EMPTY_TUPLE
                push(tuple([]))
            case 0x74:  // TUPLE
                push(tuple(try popToMark()))
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                push(tuple(try pop(Int(opcode - 0x84))))
            case 0x7D:  // EMPTY_DICT
                heap.dicts.append(PickleHeap.Dict(ordered: false))
                push(.dict(heap.dicts.count - 1))
            case 0x5D:  // EMPTY_LIST
                heap.lists.append([])
                push(.list(heap.lists.count - 1))
            case 0x73:  // SETITEM
                let items = try pop(2)
                try setItems(items)
            case 0x75:  // SETITEMS
                try setItems(try popToMark())
            case 0x61:  // APPEND
                try append(try pop(1))
            case 0x65:  // APPENDS
                try append(try popToMark())
            case 0x58:  // BINUNICODE
                push(.string(try readString(length: Int(try readInteger(4)))))
            case 0x8C:  // SHORT_BINUNICODE
                push(.string(try readString(length: Int(try readByte()))))
            case 0x71:  // BINPUT
                memo[Int(try readByte())] = try top()
            case 0x72:  // LONG_BINPUT
                memo[Int(try readInteger(4))] = try top()
            case 0x94:  // MEMOIZE
                memo[memo.count] = try top()
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = Int(opcode == 0x68 ? UInt64(try readByte()) : try readInteger(4))
                guard let value = memo[key] else { throw damaged("memo key \(key) is read before it is written") }
                push(value)
            case 0x63:  // GLOBAL: "module\nname\n"
                let module = try readLine()
                push(.global(try global(module: module, name: try readLine())))
            case 0x93:  // STACK_GLOBAL: module and name from the stack (protocol 4)
                let names = try pop(2)
                guard case .string(let module) = names[0], case .string(let name) = names[1] else {
                    throw damaged("STACK_GLOBAL on \(names[0].kind) and \(names[1].kind)")
                }
                push(.global(try global(module: module, name: name)))
            case 0x51:  // BINPERSID
                push(.storage(try storage(persistentID: try pop(1)[0])))
            case 0x4A:  // BININT
                push(.int(Int(Int32(bitPattern: UInt32(try readInteger(4))))))
            case 0x4B:  // BININT1
                push(.int(Int(try readByte())))
            case 0x4D:  // BININT2
                push(.int(Int(try readInteger(2))))
            case 0x8A:  // LONG1: n bytes, little-endian two's complement
                let count = Int(try readByte())
                guard count <= 8 else { throw damaged("a \(count)-byte integer") }
                let raw = try readInteger(count)
                let shift = UInt64(64 - 8 * count)
                push(.int(count == 0 ? 0 : Int(Int64(bitPattern: raw << shift) >> Int64(shift))))
            case 0x88, 0x89:  // NEWTRUE, NEWFALSE
                push(.bool(opcode == 0x88))
            case 0x4E:  // NONE
                push(.none)
            case 0x52:  // REDUCE
                let pair = try pop(2)
                push(try reduce(pair[0], arguments: pair[1]))
            case 0x62:  // BUILD
                let state = try pop(1)[0]
                guard case .dict(let target) = try top(), heap.dicts[target].ordered else {
                    throw refused("BUILD (setting the state of \(try top().kind)) with \(state.kind)")
                }
                // An OrderedDict's state is its `_metadata` (module versions): nothing to keep.
            default:
                throw refused("pickle opcode \(Self.opcodeNames[opcode] ?? "0x" + String(opcode, radix: 16))")
            }
        }
        throw damaged("the pickle ends without STOP (truncated?)")
    }

    // MARK: Globals, persistent ids and calls

    private func global(module: String, name: String) throws(ModelError) -> TorchGlobal {
        guard let global = TorchGlobal(module: module, name: name) else { throw refused("global '\(module).\(name)'") }
        return global
    }

    /// torch's persistent id of a storage: `('storage', torch.<Type>Storage, key, location, count)`.
    private func storage(persistentID: PickleValue) throws(ModelError) -> TorchStorage {
        guard case .tuple(let index) = persistentID, heap.tuples[index].count == 5,
            case .string("storage") = heap.tuples[index][0],
            case .global(.storageType(let dtype)) = heap.tuples[index][1],
            case .string(let key) = heap.tuples[index][2],
            case .string = heap.tuples[index][3],
            case .int(let count) = heap.tuples[index][4], count >= 0
        else { throw damaged("a persistent id that is not ('storage', torch.<Type>Storage, key, location, count)") }
        return TorchStorage(key: key, dtype: dtype, count: count)
    }

    /// REDUCE: calls one of the allowed globals, which only build data.
    private mutating func reduce(_ callable: PickleValue, arguments: PickleValue) throws(ModelError) -> PickleValue {
        guard case .global(let function) = callable, case .tuple(let index) = arguments else {
            throw damaged("REDUCE calls \(callable.kind) with \(arguments.kind)")
        }
        let arguments = heap.tuples[index]
        switch function {
        case .orderedDict:
            guard arguments.isEmpty else { throw damaged("collections.OrderedDict called with arguments") }
            heap.dicts.append(PickleHeap.Dict(ordered: true))
            return .dict(heap.dicts.count - 1)
        case .rebuildTensor:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard arguments.count == 6 || arguments.count == 7,
                case .storage(let storage) = arguments[0],
                case .int(let offset) = arguments[1], offset >= 0,
                let shape = integers(arguments[2]), let strides = integers(arguments[3]),
                case .bool = arguments[4], case .dict = arguments[5],
                arguments.count == 6 || isEmpty(arguments[6])
            else { throw damaged("torch._utils._rebuild_tensor_v2 called with arguments torch.save does not write") }
            return .tensor(TorchTensor(storage: storage, offset: offset, shape: shape, strides: strides))
        case .rebuildParameter:
            // (data, requires_grad, backward_hooks)
            guard arguments.count == 3, case .tensor = arguments[0], case .bool = arguments[1], case .dict = arguments[2] else {
                throw damaged("torch._utils._rebuild_parameter called with arguments torch.save does not write")
            }
            return arguments[0]
        case .storageType(let type):
            throw damaged("REDUCE calls the storage type \(type.rawValue) (torch.save only names it)")
        }
    }

    /// The values of a tuple of integers.
    private func integers(_ value: PickleValue) -> [Int]? {
        guard case .tuple(let index) = value else { return nil }
        var values: [Int] = []
        for element in heap.tuples[index] {
            guard case .int(let value) = element else { return nil }
            values.append(value)
        }
        return values
    }

    /// True for None and for an empty dict (`_rebuild_tensor_v2`'s optional metadata).
    private func isEmpty(_ value: PickleValue) -> Bool {
        switch value {
        case .none: true
        case .dict(let index): heap.dicts[index].items.isEmpty
        default: false
        }
    }

    // MARK: Stack

    private mutating func push(_ value: PickleValue) { stack.append(value) }

    private func top() throws(ModelError) -> PickleValue {
        guard let value = stack.last, (marks.last ?? 0) < stack.count else { throw damaged("the stack is empty") }
        return value
    }

    private mutating func pop(_ count: Int) throws(ModelError) -> [PickleValue] {
        guard stack.count - (marks.last ?? 0) >= count else { throw damaged("\(count) values needed, the stack has fewer") }
        defer { stack.removeLast(count) }
        return Array(stack.suffix(count))
    }

    private mutating func popToMark() throws(ModelError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw damaged("no MARK to pop to") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func tuple(_ values: [PickleValue]) -> PickleValue {
        heap.tuples.append(values)
        return .tuple(heap.tuples.count - 1)
    }

    /// SETITEM(S): key, value pairs into the dict below them.
    private mutating func setItems(_ items: [PickleValue]) throws(ModelError) {
        guard case .dict(let index) = try top() else { throw damaged("SETITEM on \(try top().kind)") }
        guard items.count % 2 == 0 else { throw damaged("SETITEMS with an odd number of values") }
        for pair in stride(from: 0, to: items.count, by: 2) {
            heap.dicts[index].items.append((items[pair], items[pair + 1]))
        }
    }

    /// APPEND(S): values onto the list below them.
    private mutating func append(_ items: [PickleValue]) throws(ModelError) {
        guard case .list(let index) = try top() else { throw damaged("APPEND on \(try top().kind)") }
        heap.lists[index].append(contentsOf: items)
    }

    // MARK: Bytes

    private mutating func read(_ count: Int) throws(ModelError) -> UnsafeRawBufferPointer {
        guard count <= bytes.count - position else { throw damaged("the pickle ends inside an opcode (truncated?)") }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    private mutating func readByte() throws(ModelError) -> UInt8 { try read(1)[0] }

    /// An unsigned little-endian integer of `count` ≤ 8 bytes.
    private mutating func readInteger(_ count: Int) throws(ModelError) -> UInt64 {
        try read(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func readString(length: Int) throws(ModelError) -> String {
        guard let string = String(validating: try read(length), as: UTF8.self) else { throw damaged("a string that is not UTF-8") }
        return string
    }

    /// A line of a GLOBAL opcode, without its newline.
    private mutating func readLine() throws(ModelError) -> String {
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else { throw damaged("GLOBAL without a newline") }
        let line = try readString(length: newline - position)
        position += 1
        return line
    }

    /// Names of the opcodes pickle knows, for refusals.
    private static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
        0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
        0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
        0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
        0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET",
        0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
        0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT", 0x80: "PROTO",
        0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
        0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES",
        0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS",
        0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
        0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]
}

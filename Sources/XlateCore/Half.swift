/// Conversions from the half-precision storage formats of checkpoints to float32.
public enum HalfPrecision {
    /// IEEE 754 binary16 → float32.
    @inline(__always)
    public static func float(fromFloat16 bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// bfloat16 (the upper 16 bits of a float32) → float32.
    @inline(__always)
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}

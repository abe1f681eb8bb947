import CKernels

/// Conversions from the storage formats of checkpoints to float32 (vectorised, F16C where the CPU has it).
public enum HalfPrecision {
    /// IEEE 754 binary16 → float32 for `count` values.
    public static func convert(float16 source: UnsafePointer<UInt16>, to destination: UnsafeMutablePointer<Float>, count: Int) {
        xk_f16_to_f32(source, destination, count)
    }

    /// bfloat16 (the upper 16 bits of a float32) → float32 for `count` values.
    public static func convert(bfloat16 source: UnsafePointer<UInt16>, to destination: UnsafeMutablePointer<Float>, count: Int) {
        xk_bf16_to_f32(source, destination, count)
    }

    /// True when no value is NaN or infinite.
    public static func allFinite(_ values: UnsafePointer<Float>, count: Int) -> Bool {
        xk_all_finite(values, count) != 0
    }

    /// True when none of `count` IEEE halves at `halves` (need not be aligned) is NaN or infinite.
    public static func allFinite(halves: UnsafeRawPointer, count: Int) -> Bool {
        xk_halves_finite(halves, count) != 0
    }
}

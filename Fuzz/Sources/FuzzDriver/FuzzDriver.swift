#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// libFuzzer's entry point for programs with their own `main` (in libclang_rt.fuzzer, linked by
/// `-sanitize=fuzzer`): it parses libFuzzer's flags from the command line and runs `target` on
/// each input. Returns libFuzzer's exit status.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

public func runFuzzer(_ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, target)
    exit(status)
}

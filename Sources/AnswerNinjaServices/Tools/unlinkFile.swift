#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@discardableResult
func unlinkFile(_ path: String) -> Int32 { unlink(path) }

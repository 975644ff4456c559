import XCTest
@testable import KernelProbe

final class EmbeddedObjectTests: XCTestCase {
    func decode(_ text: String) -> [UInt8]? {
        Array(text.utf8).withUnsafeBufferPointer { Base64.decode($0) }
    }

    func testBase64DecodesRFC4648Vectors() {
        let table: [(String, String)] = [
            ("", ""), ("Zg==", "f"), ("Zm8=", "fo"), ("Zm9v", "foo"), ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"), ("Zm9vYmFy", "foobar"),
        ]
        for (encoded, plain) in table {
            XCTAssertEqual(decode(encoded), Array(plain.utf8), encoded)
        }
        XCTAssertEqual(decode("+/+/"), [0xfb, 0xff, 0xbf])
    }

    func testBase64RejectsMalformedInput() {
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "Zg=a", "=Zg="] {
            XCTAssertNil(decode(bad), bad)
        }
    }

    func testTheEmbeddedObjectIsABPFELF() {
        let bytes = EmbeddedObject.bytes()
        XCTAssertGreaterThan(bytes.count, 10_000)
        XCTAssertEqual(Array(bytes.prefix(4)), [0x7f, 0x45, 0x4c, 0x46])  // \x7fELF
        XCTAssertEqual(bytes[18], 247)  // e_machine = EM_BPF
    }
}

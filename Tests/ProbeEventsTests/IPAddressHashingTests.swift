import XCTest
@testable import ProbeEvents

/// IPAddress hashes itself for tables (`_rawHashValue`) with a cheap mix
/// instead of a Hasher; tables keyed by it must still behave.
final class IPAddressHashingTests: XCTestCase {
    func testTableHashIsTheMurmur3FinalizerOfWordAndSeed() {
        XCTAssertEqual(tableHash(0, seed: 0), 0)
        XCTAssertEqual(tableHash(1, seed: 0), -5_451_962_507_482_445_012)
        XCTAssertEqual(tableHash(0, seed: 1), -5_451_962_507_482_445_012)
        XCTAssertEqual(tableHash(42, seed: 7), -6_018_990_459_996_986_047)
    }

    func testEqualAddressesHashAlikeAndTheSeedMatters() {
        let address = IPAddress(ipv4: 10, 1, 2, 3)
        XCTAssertEqual(address._rawHashValue(seed: 7), IPAddress(high: 0, low: 0xffff_0a01_0203)._rawHashValue(seed: 7))
        XCTAssertNotEqual(address._rawHashValue(seed: 7), address._rawHashValue(seed: 8))
        XCTAssertNotEqual(address._rawHashValue(seed: 7), IPAddress(ipv4: 10, 1, 2, 4)._rawHashValue(seed: 7))
    }

    func testDictionaryKeepsEveryAddressThroughGrowthAndRemoval() {
        // Neighbouring IPv4 and IPv6 addresses: the keys a weak hash would crowd.
        var addresses: [IPAddress] = []
        for last in 0..<256 { addresses.append(IPAddress(ipv4: 10, 0, UInt8(last / 16), UInt8(last))) }
        for low in 0..<256 { addresses.append(IPAddress(high: 0x2001_0db8_0000_0000, low: UInt64(low))) }
        var table: [IPAddress: Int] = [:]
        for (value, address) in addresses.enumerated() { table[address] = value }
        XCTAssertEqual(table.count, 512)
        for (value, address) in addresses.enumerated() { XCTAssertEqual(table[address], value) }
        for address in addresses[..<256] { table[address] = nil }
        XCTAssertEqual(table.count, 256)
        XCTAssertNil(table[IPAddress(ipv4: 10, 0, 0, 1)])
        XCTAssertEqual(table[IPAddress(high: 0x2001_0db8_0000_0000, low: 255)], 511)
        XCTAssertEqual(Set(addresses).count, 512)
    }
}

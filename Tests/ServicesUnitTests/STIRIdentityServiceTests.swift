@testable import AnswerNinjaServices
import Testing

/// Which x5u URLs the gateway will fetch: the URL is the caller's, and nothing is verified before the fetch.
@Suite struct STIRIdentityServiceTests {
    @Test func internalAddressesAndUnlistedHostsAreNotFetched() {
        for url in ["https://127.0.0.1/x.pem", "https://10.1.2.3/x.pem", "https://192.168.0.9:8443/x.pem", "https://172.20.0.1/x.pem",
                    "https://169.254.169.254/latest", "https://[::1]/x.pem", "https://[fd00::5]/x.pem", "https://0.0.0.0/x.pem", "https:///x.pem"] {
            #expect(STIRIdentityService.refusal(of: url, allowedHosts: []) != nil, "\(url)")
        }
        for url in ["https://cr.example.net/shaken.pem", "https://203.0.113.7/x.pem", "https://[2001:db8::7]/x.pem"] {
            #expect(STIRIdentityService.refusal(of: url, allowedHosts: []) == nil, "\(url)")
        }
        // With a list, only its hosts.
        #expect(STIRIdentityService.refusal(of: "https://127.0.0.1:9443/x.pem", allowedHosts: ["127.0.0.1"]) == nil)
        #expect(STIRIdentityService.refusal(of: "https://CR.example.net/x.pem", allowedHosts: ["cr.example.net"]) == nil)
        #expect(STIRIdentityService.refusal(of: "https://other.example.net/x.pem", allowedHosts: ["cr.example.net"]) != nil)
    }
}

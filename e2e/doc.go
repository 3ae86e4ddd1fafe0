// Package e2e holds Meridian's end-to-end tests: a real etcd (embedded, or
// an external one through MERIDIAN_TEST_ETCD_ENDPOINTS), the real store,
// DNS server, proxies and probers, talking over loopback sockets in one
// `go test` process. There is no non-test code here.
package e2e

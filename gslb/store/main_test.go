package store

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/meridian-gslb/meridian/gslb/store/etcdtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(etcdtest.M(m))
}

package objstore_test

import (
	"testing"

	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/objstore/objstoretest"
)

func TestMemory(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket { return objstore.NewMemory() })
}

package supervisor

import (
	"errors"
	"reflect"
	"unsafe"

	"github.com/fsnotify/fsnotify"
)

// opCloseWrite is fsnotify's IN_CLOSE_WRITE operation. fsnotify v1.10
// implements it for inotify but does not export it, nor the WithOps option
// that subscribes to it (fsnotify issue #764): the maintainers wait until
// every backend supports it. Both are recovered here, and withOps checks
// that they still are what this code assumes.
const opCloseWrite fsnotify.Op = 1 << 7

// errNoCloseWrite means the fsnotify in use is not laid out as withOps
// expects; the fix is to switch to its exported API once it has one.
var errNoCloseWrite = errors.New("fsnotify has no usable close-write option (its internals changed)")

// withOps returns fsnotify's unexported WithOps(ops) option. proto is any
// option of fsnotify's (unexported) option type, which a generic function
// can still name.
func withOps[O any](proto O, ops fsnotify.Op) (O, error) {
	var none O
	typ := reflect.TypeOf(proto)
	if opCloseWrite.String() != "CLOSE_WRITE" || typ.Kind() != reflect.Func ||
		typ.NumIn() != 1 || typ.NumOut() != 0 || typ.In(0).Kind() != reflect.Pointer ||
		typ.In(0).Elem().Kind() != reflect.Struct {
		return none, errNoCloseWrite
	}
	field, ok := typ.In(0).Elem().FieldByName("op")
	if !ok || field.Type != reflect.TypeFor[fsnotify.Op]() {
		return none, errNoCloseWrite
	}
	opt := reflect.MakeFunc(typ, func(args []reflect.Value) []reflect.Value {
		*(*fsnotify.Op)(unsafe.Add(args[0].UnsafePointer(), field.Offset)) = ops
		return nil
	})
	return opt.Interface().(O), nil
}

package inspect

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// tolerantResolver resolves Any type URLs to the registered Go type when this binary links it,
// and otherwise to an empty dynamic message, so that a dump carrying Istio or Envoy extensions
// we do not import (istio stats, metadata_exchange, wasm…) still decodes: with DiscardUnknown
// the unknown extension's fields are dropped instead of failing the whole dump.
type tolerantResolver struct {
	mu    sync.Mutex
	empty map[protoreflect.FullName]protoreflect.MessageType
}

var anyResolver = &tolerantResolver{empty: map[protoreflect.FullName]protoreflect.MessageType{}}

// jsonOptions decode Envoy admin JSON in either field spelling with unknown types and fields tolerated.
var jsonOptions = protojson.UnmarshalOptions{DiscardUnknown: true, Resolver: anyResolver}

func (r *tolerantResolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return r.emptyType(name)
	}
	return mt, err
}

func (r *tolerantResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
	if errors.Is(err, protoregistry.NotFound) {
		name := url
		if i := strings.LastIndexByte(url, '/'); i >= 0 {
			name = url[i+1:]
		}
		return r.emptyType(protoreflect.FullName(name))
	}
	return mt, err
}

func (r *tolerantResolver) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByName(field)
}

func (r *tolerantResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

// emptyType builds (once per name) a message type with the given full name and no fields.
func (r *tolerantResolver) emptyType(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if !name.IsValid() {
		return nil, fmt.Errorf("invalid type name %q", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if mt, ok := r.empty[name]; ok {
		return mt, nil
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        ptr("kubectl-egress/unknown/" + string(name) + ".proto"),
		Syntax:      ptr("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: ptr(string(name.Name()))}},
	}
	if pkg := name.Parent(); pkg != "" {
		fdp.Package = ptr(string(pkg))
	}
	fd, err := protodesc.NewFile(fdp, new(protoregistry.Files))
	if err != nil {
		return nil, fmt.Errorf("failed to build a placeholder for %s: %w", name, err)
	}
	mt := dynamicpb.NewMessageType(fd.Messages().Get(0))
	r.empty[name] = mt
	return mt, nil
}

func ptr[T any](v T) *T { return &v }

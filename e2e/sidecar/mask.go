package sidecar

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// maskTree is a FieldMask as a tree; a nil subtree keeps the whole field.
type maskTree map[string]maskTree

func buildMaskTree(d protoreflect.MessageDescriptor, paths []string) (maskTree, error) {
	tree := maskTree{}
	for _, p := range paths {
		if err := validatePath(d, p); err != nil {
			return nil, err
		}
		node := tree
		parts := strings.Split(p, ".")
		for i, part := range parts {
			sub, seen := node[part]
			if seen && sub == nil {
				break // an ancestor is already kept whole
			}
			if i == len(parts)-1 {
				node[part] = nil
				break
			}
			if sub == nil {
				sub = maskTree{}
				node[part] = sub
			}
			node = sub
		}
	}
	return tree, nil
}

// validatePath accepts what protobuf's FieldMaskUtil accepts: existing fields, and only
// singular message fields before the last component.
func validatePath(d protoreflect.MessageDescriptor, path string) error {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		if d == nil {
			return fmt.Errorf("invalid field mask path %q", path)
		}
		fd := d.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			return fmt.Errorf("invalid field mask path %q", path)
		}
		if i < len(parts)-1 {
			if fd.IsList() || fd.IsMap() || fd.Message() == nil {
				return fmt.Errorf("invalid field mask path %q", path)
			}
			d = fd.Message()
		}
	}
	return nil
}

// trimMessage keeps only the masked fields of m.
func trimMessage(m proto.Message, paths []string) error {
	tree, err := buildMaskTree(m.ProtoReflect().Descriptor(), paths)
	if err != nil {
		return err
	}
	trim(m.ProtoReflect(), tree)
	return nil
}

func trim(m protoreflect.Message, tree maskTree) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		sub, ok := tree[string(fd.Name())]
		switch {
		case !ok:
			m.Clear(fd)
		case sub != nil:
			trim(v.Message(), sub)
		}
		return true
	})
}

// trimResource applies a mask to one config dump element, reaching into its Any field the
// way Envoy does: "cluster.name" keeps the name inside the packed cluster.
func trimResource(m proto.Message, paths []string) error {
	rm := m.ProtoReflect()
	d := rm.Descriptor()
	var outer, inner []string
	var anyField protoreflect.FieldDescriptor
	for _, p := range paths {
		first, rest, _ := strings.Cut(p, ".")
		fd := d.Fields().ByName(protoreflect.Name(first))
		if fd != nil && !fd.IsList() && fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Any" {
			anyField = fd
			outer = append(outer, first)
			if rest != "" {
				inner = append(inner, rest)
			}
			continue
		}
		outer = append(outer, p)
	}
	if anyField != nil && rm.Has(anyField) && len(inner) > 0 {
		a := rm.Get(anyField).Message().Interface().(*anypb.Any)
		msg, err := a.UnmarshalNew()
		if err != nil {
			return err
		}
		if err := trimMessage(msg, inner); err != nil {
			return err
		}
		na, err := anypb.New(msg)
		if err != nil {
			return err
		}
		rm.Set(anyField, protoreflect.ValueOfMessage(na.ProtoReflect()))
	}
	return trimMessage(m, outer)
}

package wire_test

import (
	"bytes"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/timestamppb" // registers google/protobuf/timestamp.proto

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// loadProto reads incidentd.proto into a descriptor. It understands the
// file's plain subset: messages of scalar, message and repeated fields.
func loadProto(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	src, err := os.ReadFile("incidentd.proto")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`//[^\n]*`).ReplaceAllString(string(src), "")
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("incidentd.proto"),
		Package:    proto.String(regexp.MustCompile(`package ([\w.]+);`).FindStringSubmatch(text)[1]),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
	}
	scalars := map[string]descriptorpb.FieldDescriptorProto_Type{
		"string": descriptorpb.FieldDescriptorProto_TYPE_STRING, "uint64": descriptorpb.FieldDescriptorProto_TYPE_UINT64,
		"int64": descriptorpb.FieldDescriptorProto_TYPE_INT64, "bool": descriptorpb.FieldDescriptorProto_TYPE_BOOL,
	}
	field := regexp.MustCompile(`(repeated )?([\w.]+) (\w+) = (\d+);`)
	for _, m := range regexp.MustCompile(`message (\w+) \{([^}]*)\}`).FindAllStringSubmatch(text, -1) {
		msg := &descriptorpb.DescriptorProto{Name: proto.String(m[1])}
		for _, f := range field.FindAllStringSubmatch(m[2], -1) {
			num, _ := strconv.Atoi(f[4])
			fp := &descriptorpb.FieldDescriptorProto{
				Name: proto.String(f[3]), JsonName: proto.String(f[3]), Number: proto.Int32(int32(num)),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}
			if f[1] != "" {
				fp.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
			}
			if typ, ok := scalars[f[2]]; ok {
				fp.Type = typ.Enum()
			} else {
				fp.Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
				name := f[2]
				if !strings.Contains(name, ".") {
					name = fd.GetPackage() + "." + name
				}
				fp.TypeName = proto.String("." + name)
			}
			msg.Field = append(msg.Field, fp)
		}
		fd.MessageType = append(fd.MessageType, msg)
	}
	file, err := protodesc.NewFile(fd, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("incidentd.proto: %v", err)
	}
	return file
}

// noUnknown fails if the message or one nested in it has fields the
// schema does not name.
func noUnknown(t *testing.T, what string, m protoreflect.Message) {
	t.Helper()
	if len(m.GetUnknown()) > 0 {
		t.Errorf("%s: %s has fields incidentd.proto does not declare", what, m.Descriptor().FullName())
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() != protoreflect.MessageKind:
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				noUnknown(t, what, v.List().Get(i).Message())
			}
		default:
			noUnknown(t, what, v.Message())
		}
		return true
	})
}

// TestProtoMatchesCode decodes every record of a realistic history with
// the protobuf runtime and incidentd.proto, and checks that it knows every
// field and that re-encoding gives the same bytes.
func TestProtoMatchesCode(t *testing.T) {
	file := loadProto(t)
	cmds, events, states := history(t)
	var recs [][]byte
	for _, c := range cmds {
		b, _ := wire.EncodeCommand(c)
		recs = append(recs, b)
	}
	for _, e := range events {
		b, _ := wire.EncodeEvent(e)
		recs = append(recs, b)
	}
	for _, s := range states {
		b, _ := wire.EncodeState(s)
		recs = append(recs, b)
	}
	for _, o := range outcomes(events) {
		b, _ := wire.EncodeOutcome(o)
		recs = append(recs, b)
	}
	batch, _ := wire.EncodeOutcomes(outcomes(events))
	recs = append(recs, batch)
	// A nested message longer than 127 bytes takes a two-byte length,
	// which the encoder writes after the message (enc.sub).
	long := cmds[0]
	long.Kind = incident.PinMessage
	long.Message = incident.SlackMessage{Channel: "C1", TS: "1.2", Author: "U7", Text: strings.Repeat("error rate 40% ", 20), At: at}
	b, err := wire.EncodeCommand(long)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := wire.DecodeCommand(b); err != nil || !reflect.DeepEqual(got, long) {
		t.Fatalf("long message round trip: %v\n got %+v\nwant %+v", err, got, long)
	}
	recs = append(recs, b)
	names := map[byte]protoreflect.Name{1: "Command", 2: "Event", 3: "State", 4: "Outcome", 5: "Outcomes"}
	for i, rec := range recs {
		if rec[0] != wire.Version {
			t.Fatalf("record %d starts with %d, want the version %d", i, rec[0], wire.Version)
		}
		md := file.Messages().ByName(names[rec[1]])
		if md == nil {
			t.Fatalf("record %d: type byte %d names no message", i, rec[1])
		}
		m := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(rec[2:], m); err != nil {
			t.Fatalf("record %d (%s): %v", i, md.Name(), err)
		}
		noUnknown(t, string(md.Name()), m)
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, rec[2:]) {
			t.Errorf("record %d (%s): protobuf re-encodes it differently:\n ours %x\n  pb  %x", i, md.Name(), rec[2:], again)
		}
	}
}

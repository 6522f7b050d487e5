package wire_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// loadProto compiles incidentd.proto (and the well-known types it imports)
// into a descriptor, with a protobuf compiler written in Go.
func loadProto(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{}),
	}
	files, err := c.Compile(t.Context(), "incidentd.proto")
	if err != nil {
		t.Fatalf("incidentd.proto: %v", err)
	}
	return files[0]
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

package events

import (
	"strings"

	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// payloadOneof is the descriptor of Envelope.payload.
var payloadOneof = (&pb.Envelope{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")

// payload returns the set payload field and its message, or nil.
func payload(env *pb.Envelope) (protoreflect.FieldDescriptor, protoreflect.Message) {
	m := env.ProtoReflect()
	fd := m.WhichOneof(payloadOneof)
	if fd == nil {
		return nil, nil
	}
	return fd, m.Get(fd).Message()
}

// TypeOf derives an event's type name from its payload field:
// device_credentials_changed → "device.credentials_changed".
func TypeOf(env *pb.Envelope) string {
	fd, _ := payload(env)
	if fd == nil {
		return ""
	}
	kind, rest, _ := strings.Cut(string(fd.Name()), "_")
	return kind + "." + rest
}

// KindOfType is the aggregate kind events of type t are appended to: the
// type's first word, except the viewing audit's stream.viewed and
// recording.viewed, which are facts of kind "view".
func KindOfType(t string) string {
	if strings.HasSuffix(t, ".viewed") {
		return KindView
	}
	k, _, _ := strings.Cut(t, ".")
	return k
}

var jsonOpts = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}

// DataJSON is the event payload as JSON with every secret removed: any field
// whose name mentions a password, secret or key material is dropped. This is
// the only form in which events leave the log (API, ClickHouse).
func DataJSON(env *pb.Envelope) []byte {
	_, m := payload(env)
	if m == nil {
		return []byte("{}")
	}
	c := proto.Clone(m.Interface())
	redact(c.ProtoReflect())
	b, err := jsonOpts.Marshal(c)
	if err != nil || len(b) == 0 {
		return []byte("{}")
	}
	return b
}

func isSecretField(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret") || strings.HasSuffix(n, "_key_material")
}

func redact(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case isSecretField(string(fd.Name())):
			m.Clear(fd)
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			redact(v.Message())
		case fd.Message() != nil && fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				redact(l.Get(i).Message())
			}
		}
		return true
	})
}

// Protobuf's JSON mapping with ids and times as JSON numbers, for `hpoctl show --format json`.
//
// Protobuf writes every 64-bit integer as a JSON string, since JavaScript and many JSON readers keep
// only 53 bits of a number. Ids and times never come near 2^53, so here they are numbers, as the rest of
// hpoctl's JSON has them ("id": 3, not "id": "3"); a 64-bit integer a user may set anywhere in 64 bits
// (a study's seed, an integer parameter's bounds) stays a string.
//
// A pure function: thread-safe, no shared state.
#ifndef HPO_CLIENT_PROTO_JSON_H_
#define HPO_CLIENT_PROTO_JSON_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>

namespace hpo::client {

// True for the 64-bit integer fields written as JSON numbers: those named "id", "from_study" or ending in
// "_id", "_ids" or "_ms" (ids and Unix milliseconds), a trial's "seed" (below 2^53 by construction) and a
// progress report's "step". False for every other field, and for fields of other types.
bool IsSafeInteger(const google::protobuf::FieldDescriptor& field);

// `message` in protobuf's JSON mapping (proto field names, enums by name, fields at their defaults left
// out, indented), except that IsSafeInteger fields are JSON numbers. Ends with a newline; "{}\n" when
// protobuf cannot print the message.
std::string MessageToJsonWithSafeNumbers(const google::protobuf::Message& message);

}  // namespace hpo::client

#endif  // HPO_CLIENT_PROTO_JSON_H_

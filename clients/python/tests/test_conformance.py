"""The codec and key encoding against the same vectors as RecordFormatConformanceTest and KeyEncodingConformanceTest."""

import unittest

from deferred_spans import (CorruptRecordError, Layout, UnsupportedVersionError, decode_finished, decode_record,
                            encode_finished, encode_key, encode_record, java_string_hash, shard)

from tests import vectors

RECORDS = vectors.load(vectors.RECORDS_PATH)
KEYS = vectors.load(vectors.KEYS_PATH)
NAME = "/deferred-spans/open/07/conformance"


class KeyVectors(unittest.TestCase):
    def test_valid_keys_encode_hash_and_shard_as_java_does(self):
        layout = Layout(KEYS["basePath"])
        for v in KEYS["valid"]:
            with self.subTest(key=v["key"]):
                self.assertEqual(v["encoded"], encode_key(v["key"]))
                self.assertEqual(v["hash"], java_string_hash(v["key"]))
                self.assertEqual(v["shard"], shard(v["key"]))
                self.assertEqual(v["path"], layout.open_path(v["key"]))

    def test_invalid_keys_are_refused(self):
        for v in KEYS["invalid"]:
            with self.subTest(note=v["note"]):
                with self.assertRaises(ValueError):
                    encode_key(v["key"])


class RecordVectors(unittest.TestCase):
    def test_begin_records_are_written_as_these_exact_bytes_and_read_back(self):
        for v in RECORDS["records"]:
            with self.subTest(note=v["note"]):
                record = vectors.record(v["record"])
                self.assertEqual(v["text"], encode_record(record).decode("utf-8"))
                self.assertEqual(record, decode_record(v["text"].encode("utf-8"), NAME))

    def test_lossy_values_are_written_as_these_bytes_and_read_back_as_documented(self):
        for v in RECORDS["lossy"]:
            with self.subTest(note=v["note"]):
                self.assertEqual(v["text"], encode_record(vectors.record(v["record"])).decode("utf-8"))
                decoded = decode_record(v["text"].encode("utf-8"), NAME)
                self.assertEqual(vectors.record(v["decoded"]), decoded)

    def test_finished_spans_are_written_as_these_exact_bytes_and_read_back(self):
        for v in RECORDS["finished"]:
            with self.subTest(note=v["note"]):
                span = vectors.finished(v["finished"])
                self.assertEqual(v["text"], encode_finished(span).decode("utf-8"))
                self.assertEqual(span, decode_finished(v["text"].encode("utf-8"), NAME))

    def test_other_spellings_are_read_as_these_fields(self):
        for v in RECORDS["accepted"]:
            with self.subTest(note=v["note"]):
                data = vectors.raw_bytes(v)
                if "finished" in v:
                    self.assertEqual(vectors.finished(v["finished"]), decode_finished(data, NAME))
                else:
                    self.assertEqual(vectors.record(v["record"]), decode_record(data, NAME))

    def test_bad_bytes_are_rejected_with_their_error_kind(self):
        kinds = {"corrupt": CorruptRecordError, "unsupported_version": UnsupportedVersionError}
        for v in RECORDS["rejected"]:
            with self.subTest(note=v["note"]):
                data = vectors.raw_bytes(v)
                kind = kinds[v["error"]]
                decoders = {"record": [decode_record], "finished": [decode_finished],
                            "both": [decode_record, decode_finished]}[v["decoder"]]
                for decoder in decoders:
                    with self.assertRaises(kind) as caught:
                        decoder(data, NAME)
                    # The other kind is a subclass of neither: a corrupt record is never "newer", and vice versa.
                    self.assertIs(type(caught.exception), kind, str(caught.exception))
                    self.assertEqual(NAME, caught.exception.record_name)

    def test_vectors_cover_every_kind_of_input(self):
        self.assertEqual({"corrupt", "unsupported_version"}, {v["error"] for v in RECORDS["rejected"]})
        self.assertEqual({"record", "finished", "both"}, {v["decoder"] for v in RECORDS["rejected"]})


if __name__ == "__main__":
    unittest.main()

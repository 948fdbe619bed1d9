"""PDF: remove document-level and object-level metadata with pikepdf (qpdf), in memory.

Removed:

- the trailer's ``/Info`` dictionary (Title, Author, Subject, Keywords, Creator,
  Producer, CreationDate, ModDate and any custom key);
- every ``/Metadata`` entry (the XMP stream of the catalog, of pages, images, fonts,
  anything) and the data of every ``/Type /Metadata`` stream still reachable otherwise;
- ``/PieceInfo`` and ``/LastModified`` everywhere (an editor's private data: it can hold
  the whole editable original, with its own history), the catalog's ``/SpiderInfo``
  (web capture: source URLs and times), article threads' ``/I`` info dictionaries,
  and page thumbnails ``/Thumb`` (a stale thumbnail can show a page before an edit);
- on annotations: ``/M`` and ``/CreationDate`` (times), and on every annotation but
  form fields ``/T`` (the comment's author) and ``/NM`` (an application-made id);
- EXIF, XMP and the other metadata segments of JPEG images stored in the PDF as-is
  (``/DCTDecode`` streams): "photo to PDF" tools routinely embed the phone's JPEG,
  GPS included. Cleaned with the same segment filter as JPEG attachments (lossless);
- the trailer ``/ID``: its first half, which survives every edit of a document and so
  links this copy to the original anywhere else, becomes 16 fresh random bytes; qpdf
  derives the second half from the written content (``deterministic_id``) rather than
  from the clock.

Saving rewrites the whole file: earlier revisions kept by incremental updates and
objects nothing refers to are not written. Streams keep their encoding; no
linearization.

Refused as unsupported: password-protected files, signed files (removing anything
breaks the signature, and the signer's certificate names them: store such a file as it
is, deliberately), files with embedded files (each is a whole document with its own
metadata), JPEG 2000 images (their boxes can hold XMP and GeoJP2 positions), and JPEG
images behind more than one filter.
"""

from __future__ import annotations

import io
import secrets
import warnings
from collections.abc import Iterator

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, Stream, String

from reprisal_report.sanitize.jpeg import strip_jpeg
from reprisal_report.sanitize.problems import MediaMalformed, MediaUnsupported

# Keys removed wherever they appear, in any dictionary or stream dictionary.
_METADATA_KEYS = ("/Metadata", "/PieceInfo", "/LastModified")
_ANNOTATION_TIMES = ("/M", "/CreationDate")
_ANNOTATION_IDENTITY = ("/T", "/NM")


def strip_pdf(data: bytes) -> bytes:
    """Return ``data`` saved again without metadata; see the module docstring."""
    try:
        with warnings.catch_warnings():
            # pikepdf reports some oddities as Python warnings, which would reach the
            # terminal from the core; the result is checked below instead.
            warnings.simplefilter("ignore")
            return _strip(data)
    except (MediaMalformed, MediaUnsupported):
        raise
    except pikepdf.PasswordError:
        raise MediaUnsupported("password-protected pdf") from None
    except Exception:
        # qpdf reports damage through several exception types, and their messages
        # quote the file's objects: only a fixed phrase leaves this module.
        raise MediaMalformed("its pdf structure could not be read") from None


def _strip(data: bytes) -> bytes:
    with Pdf.open(io.BytesIO(data)) as pdf:
        page_count = len(pdf.pages)
        objects = list(_all_dictionaries(pdf))
        _refuse_unsupported(pdf, objects)
        _drop_info(pdf)
        for obj in objects:
            _drop_keys(obj, _METADATA_KEYS)
            if obj.get("/Type") == Name.Metadata and isinstance(obj, Stream):
                obj.write(b"")
            if isinstance(obj, Stream):
                _clean_jpeg_stream(obj)
        _clean_catalog(pdf)
        for page in pdf.pages:
            _drop_keys(page.obj, ("/Thumb",))
            annotations = page.obj.get("/Annots")
            if isinstance(annotations, Array):
                for annotation in annotations:
                    if isinstance(annotation, Dictionary):
                        _clean_annotation(annotation)
        pdf.trailer.ID = Array([String(secrets.token_bytes(16)), String(secrets.token_bytes(16))])
        out = io.BytesIO()
        pdf.save(
            out,
            linearize=False,
            deterministic_id=True,
            fix_metadata_version=False,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
            encryption=False,
        )
    cleaned = out.getvalue()
    _verify(cleaned, page_count)
    return cleaned


def _all_dictionaries(pdf: Pdf) -> Iterator[pikepdf.Object]:
    """Every dictionary and stream in the file, nested direct ones included."""
    # pdf.objects lists each indirect object once; direct containers nest inside them
    # and cannot form cycles, so no "seen" set is needed. pikepdf hands scalars back as
    # Python values, hence the isinstance filters.
    pending = [obj for obj in pdf.objects if isinstance(obj, Dictionary | Stream | Array)]
    while pending:
        obj = pending.pop()
        if isinstance(obj, Dictionary | Stream):
            yield obj
            children = [obj[key] for key in obj.keys()]  # noqa: SIM118 (pikepdf API)
        else:
            children = list(obj)
        # Indirect children are in pdf.objects already; only direct ones nest here.
        pending.extend(
            child
            for child in children
            if isinstance(child, Dictionary | Array) and not child.is_indirect
        )


def _refuse_unsupported(pdf: Pdf, objects: list[pikepdf.Object]) -> None:
    names = pdf.Root.get("/Names")
    if isinstance(names, Dictionary) and "/EmbeddedFiles" in names:
        raise MediaUnsupported("pdf with embedded files")
    for obj in objects:
        if "/ByteRange" in obj or obj.get("/Type") == Name.Sig:
            raise MediaUnsupported("signed pdf")
        if "/EF" in obj or obj.get("/Type") == Name.EmbeddedFile:
            raise MediaUnsupported("pdf with embedded files")
        if isinstance(obj, Stream) and Name.JPXDecode in _filters(obj):
            raise MediaUnsupported("pdf with jpeg 2000 images")


def _filters(stream: pikepdf.Object) -> list[pikepdf.Object]:
    value = stream.get("/Filter")
    if isinstance(value, Array):
        return list(value)
    return [] if value is None else [value]


def _drop_keys(obj: pikepdf.Object, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in obj:
            del obj[key]


def _drop_info(pdf: Pdf) -> None:
    info = pdf.trailer.get("/Info")
    if isinstance(info, Dictionary):
        # Emptied as well as unlinked, in case another object points at it.
        for key in list(info.keys()):
            del info[key]
    _drop_keys(pdf.trailer, ("/Info",))


def _clean_catalog(pdf: Pdf) -> None:
    _drop_keys(pdf.Root, ("/SpiderInfo",))
    threads = pdf.Root.get("/Threads")
    if isinstance(threads, Array):
        for thread in threads:
            if isinstance(thread, Dictionary):
                _drop_keys(thread, ("/I",))


def _clean_annotation(annotation: pikepdf.Object) -> None:
    _drop_keys(annotation, _ANNOTATION_TIMES)
    # On a form field /T is the field's name, which the form needs; elsewhere it is
    # the name of the person who wrote the comment.
    if annotation.get("/Subtype") != Name.Widget:
        _drop_keys(annotation, _ANNOTATION_IDENTITY)


def _clean_jpeg_stream(stream: pikepdf.Object) -> None:
    filters = _filters(stream)
    if Name.DCTDecode not in filters:
        return
    if len(filters) != 1:
        raise MediaUnsupported("pdf with jpeg images behind several filters")
    raw = stream.read_raw_bytes()
    try:
        cleaned = strip_jpeg(raw, require_eoi=False)
    except MediaMalformed:
        raise MediaMalformed("it holds a damaged jpeg image") from None
    except MediaUnsupported:
        raise MediaUnsupported("pdf with jpeg images this tool cannot clean") from None
    if cleaned != raw:
        parms = stream.get("/DecodeParms")
        if parms is not None and not isinstance(parms, Dictionary | Array):
            raise MediaMalformed("it has an image with invalid decode parameters")
        stream.write(cleaned, filter=Name.DCTDecode, decode_parms=parms)


def _verify(cleaned: bytes, page_count: int) -> None:
    """Reopen the result: same number of pages, no Info, no catalog metadata."""
    with Pdf.open(io.BytesIO(cleaned)) as result:
        if len(result.pages) != page_count:
            raise MediaUnsupported("pdf that does not survive re-saving unchanged")
        if "/Info" in result.trailer or "/Metadata" in result.Root:
            raise MediaUnsupported("pdf that does not survive re-saving unchanged")

"""bgone_krita.colour: which layers need a converted copy."""

from __future__ import annotations

from fakeworker import FakeWorker
from kritatest import holder_for, photo


def test_only_srgb_8bit_rgba_skips_the_conversion(kr):
    from bgone_krita.colour import is_srgb8

    assert is_srgb8(("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc"))
    assert is_srgb8(("RGBA", "U8", "sRGB IEC61966-2.1"))  # embedded in most PNG/JPEG files
    assert not is_srgb8(("RGBA", "U8", "sRGB-elle-V2-g10.icc"))  # linear light
    assert not is_srgb8(("RGBA", "U8", "Adobe RGB (1998)"))
    assert not is_srgb8(("RGBA", "U16", "sRGB-elle-V2-srgbtrc.icc"))
    assert not is_srgb8(("GRAYA", "U8", "Gray-D50-elle-V2-srgbtrc.icc"))


def test_wide_gamut_8bit_layer_is_converted_too(kr, app):
    _, pkg = kr
    doc = app.createDocument(12, 10, "t", "RGBA", "U8", "Adobe RGB (1998)", 72.0)
    layer = doc.add_layer(cs=("RGBA", "U8", "Adobe RGB (1998)"))
    layer.fill(photo(10, 12))
    pkg.remove_background(doc, layer, holder=holder_for(FakeWorker()))
    assert len(app.reads) > 1, "expected a read through the temporary conversion document"
    assert app.documents() == [doc]

#!/usr/bin/python3
"""Reference images for preprocess.Place (issue 16), with numpy and PIL.

Writes place_src.png, a 40x30 RGB fixture (smooth gradients, a hard-edged
square and a stripe), and place_<degrees>_<fov>.png, the fixture placed as
Brain-Score's place_on_screen does (brainscore_vision/benchmark_helpers/
screen.py) but kept at the image's own size, as Place documents:
  r = degrees/fov < 1: scaled by r (PIL bilinear) and pasted centred on a
      PIL 'gray' (128,128,128) canvas of the image's size;
  r > 1: the central 1/r cropped and scaled back (PIL bilinear).
Sizes and offsets are numpy-rounded (half to even), as Brain-Score's.

Run from this folder: /usr/bin/python3 gen_place.py
"""
import numpy as np
from PIL import Image

W, H = 40, 30
CASES = [(4, 8), (2, 8), (5, 8), (6, 10), (12, 8), (16, 8)]


def fixture():
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 255 * x / (W - 1)
    g = 255 * y / (H - 1)
    b = 127.5 + 127.5 * np.sin(x / 3.0) * np.cos(y / 4.0)
    img = np.stack([r, g, b], axis=-1)
    img[8:20, 12:24] = [250, 20, 40]  # a hard-edged square
    img[:, 30:32] = [10, 200, 10]  # a stripe
    return Image.fromarray(np.round(img).astype(np.uint8), 'RGB')


def place(img, degrees, fov):
    w, h = img.size
    r = degrees / fov
    if r < 1:
        sw, sh = max(1, int(np.round(r * w))), max(1, int(np.round(r * h)))
        x0, y0 = int(np.round((w - sw) / 2)), int(np.round((h - sh) / 2))
        canvas = Image.new('RGB', (w, h), 'gray')
        canvas.paste(img.resize((sw, sh), Image.BILINEAR), (x0, y0))
        return canvas
    cw, ch = max(1, int(np.round(w / r))), max(1, int(np.round(h / r)))
    x0, y0 = int(np.round((w - cw) / 2)), int(np.round((h - ch) / 2))
    return img.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BILINEAR)


def main():
    src = fixture()
    src.save('place_src.png')
    for d, f in CASES:
        place(src, d, f).save(f'place_{d}_{f}.png')


if __name__ == '__main__':
    main()

import numpy as np

from debristrack.sdtnet.data import gaussian_map, to_input, to_output
from debristrack.sdtnet.decode import decode, decode_maps, find_peaks, pair_endpoints


def test_coordinate_round_trip():
    xy = np.array([[0.0, 0.0], [13.25, 7.5]])
    assert np.allclose(to_input(to_output(xy)), xy)
    assert np.allclose(to_output(np.array([1.5, 5.5])), [0.0, 1.0])  # centre of the 4x4 block


def test_find_peaks_nms_and_topk():
    heat = gaussian_map(np.array([[3.0, 3.0]]), (8, 16), 1.0) * 0.9
    heat[4, 10] = 0.6
    heat[4, 11] = 0.5  # beside a higher peak: suppressed
    cells, score = find_peaks(heat, top_k=5, threshold=0.3)
    assert cells.tolist() == [[3, 3], [10, 4]]
    assert np.allclose(score, [0.9, 0.6])
    assert find_peaks(heat, top_k=1, threshold=0.3)[0].tolist() == [[3, 3]]


def test_pair_by_embedding_one_to_one():
    el = np.array([[0.0], [3.0]])
    er = np.array([[3.1], [0.1], [9.0]])
    i, j = pair_endpoints(el, er, np.array([0.0, 0.0]), np.array([5.0, 5.0, 5.0]), max_distance=0.5)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (1, 0)]
    # a right end far left of the left end is never its partner
    i, j = pair_endpoints(el[:1], er[1:2], np.array([50.0]), np.array([5.0]), max_distance=0.5)
    assert len(i) == 0


def test_decode_synthetic_maps_gives_segments():
    h, w = 16, 24
    # two streaks (input px): (10, 10)-(50, 30) and (20, 50)-(70, 42)
    segs = np.array([[10.0, 10.0, 50.0, 30.0], [20.0, 50.0, 70.0, 42.0]])
    uv_l, uv_r = to_output(segs[:, :2]), to_output(segs[:, 2:])
    cl, cr = np.rint(uv_l), np.rint(uv_r)
    hm = np.stack([gaussian_map(cl, (h, w), 1.0), gaussian_map(cr, (h, w), 1.0)])
    emb = np.zeros((2, h, w))
    reg = np.zeros((4, h, w))
    off = np.zeros((4, h, w))
    for k in range(2):
        (xl, yl), (xr, yr) = cl[k].astype(int), cr[k].astype(int)
        emb[0, yl, xl] = emb[1, yr, xr] = 2.0 * k
        reg[:2, yl, xl] = uv_l[k] - cl[k]
        reg[2:, yr, xr] = uv_r[k] - cr[k]
        off[:2, yl, xl] = off[2:, yr, xr] = [1.0, -0.5]
    got = decode_maps({"hm": hm, "emb": emb, "reg": reg, "off": off}, threshold=0.5, max_distance=0.5)
    order = np.argsort(got.left[:, 0])
    assert np.allclose(np.hstack([got.left, got.right])[order], segs, atol=1e-9)
    assert np.allclose(got.score, 1.0)
    assert np.allclose(got.off_left, [[4.0, -2.0]] * 2)  # output px x stride 4


def test_decode_centre_variant():
    h, w = 16, 16
    seg = np.array([10.0, 30.0, 50.0, 14.0])  # left (10, 30), right (50, 14), input px
    uv = to_output((seg[:2] + seg[2:]) / 2)
    c = np.rint(uv).astype(int)
    hm = gaussian_map(c[None].astype(float), (h, w), 1.0)[None]
    wh, reg, off = np.zeros((2, h, w)), np.zeros((2, h, w)), np.zeros((2, h, w))
    wh[:, c[1], c[0]] = -(seg[2:] - seg[:2]) / 4  # the vector may point either way
    reg[:, c[1], c[0]] = uv - c
    off[:, c[1], c[0]] = [0.5, 0.25]
    got = decode({"hm": hm, "wh": wh, "reg": reg, "off": off}, threshold=0.5)
    assert np.allclose(np.hstack([got.left, got.right]), [seg])
    assert np.allclose(got.off_left, [[2.0, 1.0]]) and np.allclose(got.off_right, [[2.0, 1.0]])


def test_mask_support_rejects_pairs_off_the_mask():
    from debristrack.sdtnet.decode import mask_support

    mask = np.zeros((8, 8))
    mask[2, 1:7] = 1.0  # one horizontal streak on row 2
    s = mask_support(mask, np.array([[1.0, 2.0], [1.0, 6.0]]), np.array([[6.0, 2.0]]))
    assert s[0, 0] == 1.0 and s[1, 0] < 0.5
    el, er = np.zeros((2, 1)), np.zeros((1, 1))  # embeddings cannot tell the two left ends apart
    i, j = pair_endpoints(el, er, np.array([1.0, 1.0]), np.array([6.0]), max_distance=0.5, support=s,
                          min_support=0.5)
    assert i.tolist() == [0] and j.tolist() == [0]


def test_support_weight_pairs_crossing_streaks_along_the_mask():
    from debristrack.sdtnet.decode import mask_support

    # two streaks crossing in an X: (0,0)-(9,9) and (0,9)-(9,0); the left embeddings are swapped
    # relative to the right ones a little, so eq. 10 alone pairs them wrongly
    mask = np.zeros((10, 10))
    idx = np.arange(10)
    mask[idx, idx] = mask[9 - idx, idx] = 1.0
    left, right = np.array([[0.0, 0.0], [0.0, 9.0]]), np.array([[9.0, 9.0], [9.0, 0.0]])
    s = mask_support(mask, left, right)
    el, er = np.array([[0.0], [1.0]]), np.array([[0.6], [0.4]])
    i, j = pair_endpoints(el, er, left[:, 0], right[:, 0], max_distance=1.2)
    assert dict(zip(i.tolist(), j.tolist())) == {0: 1, 1: 0}  # embedding only: the wrong pairs
    i, j = pair_endpoints(el, er, left[:, 0], right[:, 0], max_distance=1.2, support=s, support_weight=4.0)
    assert dict(zip(i.tolist(), j.tolist())) == {0: 0, 1: 1}

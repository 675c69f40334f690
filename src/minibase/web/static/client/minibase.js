// node_modules/lib0/map.js
var e = () => /* @__PURE__ */ new Map(), t = (t) => {
	let n = e();
	return t.forEach((e, t) => {
		n.set(t, e);
	}), n;
}, n = (e, t, n) => {
	let r = e.get(t);
	return r === void 0 && e.set(t, r = n()), r;
}, r = (e, t) => {
	let n = [];
	for (let [r, i] of e) n.push(t(i, r));
	return n;
}, i = (e, t) => {
	for (let [n, r] of e) if (t(r, n)) return !0;
	return !1;
}, a = () => /* @__PURE__ */ new Set(), o = (e) => e[e.length - 1], s = (e, t) => {
	for (let n = 0; n < t.length; n++) e.push(t[n]);
}, c = Array.from, l = (e, t) => {
	for (let n = 0; n < e.length; n++) if (!t(e[n], n, e)) return !1;
	return !0;
}, u = (e, t) => {
	for (let n = 0; n < e.length; n++) if (t(e[n], n, e)) return !0;
	return !1;
}, d = (e, t) => {
	let n = Array(e);
	for (let r = 0; r < e; r++) n[r] = t(r, n);
	return n;
}, f = Array.isArray, p = class {
	constructor() {
		this._observers = e();
	}
	on(e, t) {
		return n(this._observers, e, a).add(t), t;
	}
	once(e, t) {
		let n = (...r) => {
			this.off(e, n), t(...r);
		};
		this.on(e, n);
	}
	off(e, t) {
		let n = this._observers.get(e);
		n !== void 0 && (n.delete(t), n.size === 0 && this._observers.delete(e));
	}
	emit(t, n) {
		return c((this._observers.get(t) || e()).values()).forEach((e) => e(...n));
	}
	destroy() {
		this._observers = e();
	}
}, ee = class {
	constructor() {
		this._observers = e();
	}
	on(e, t) {
		n(this._observers, e, a).add(t);
	}
	once(e, t) {
		let n = (...r) => {
			this.off(e, n), t(...r);
		};
		this.on(e, n);
	}
	off(e, t) {
		let n = this._observers.get(e);
		n !== void 0 && (n.delete(t), n.size === 0 && this._observers.delete(e));
	}
	emit(t, n) {
		return c((this._observers.get(t) || e()).values()).forEach((e) => e(...n));
	}
	destroy() {
		this._observers = e();
	}
}, m = Math.floor, h = Math.abs, te = (e, t) => e < t ? e : t, g = (e, t) => e > t ? e : t;
Number.isNaN;
var ne = Math.pow, re = (e) => e === 0 ? 1 / e < 0 : e < 0, ie = 2 ** 53 - 1, ae = -(2 ** 53 - 1), oe = Number.isInteger || ((e) => typeof e == "number" && isFinite(e) && m(e) === e);
Number.isNaN, Number.parseInt;
// node_modules/lib0/string.js
var se = String.fromCharCode;
String.fromCodePoint, se(65535);
var ce = (e) => e.toLowerCase(), le = /^\s*/g, ue = (e) => e.replace(le, ""), de = /([A-Z])/g, fe = (e, t) => ue(e.replace(de, (e) => `${t}${ce(e)}`)), pe = (e) => {
	let t = unescape(encodeURIComponent(e)), n = t.length, r = new Uint8Array(n);
	for (let e = 0; e < n; e++) r[e] = t.codePointAt(e);
	return r;
}, me = typeof TextEncoder < "u" ? new TextEncoder() : null, he = me ? (e) => me.encode(e) : pe, ge = typeof TextDecoder > "u" ? null : new TextDecoder("utf-8", {
	fatal: !0,
	ignoreBOM: !0
});
/* c8 ignore start */
ge && ge.decode(/* @__PURE__ */ new Uint8Array()).length === 1 && 
/* c8 ignore next */
(ge = null);
var _e = (e, t) => d(t, () => e).join(""), ve = class {
	constructor() {
		this.cpos = 0, this.cbuf = /* @__PURE__ */ new Uint8Array(100), this.bufs = [];
	}
}, _ = () => new ve(), ye = (e) => {
	let t = e.cpos;
	for (let n = 0; n < e.bufs.length; n++) t += e.bufs[n].length;
	return t;
}, v = (e) => {
	let t = new Uint8Array(ye(e)), n = 0;
	for (let r = 0; r < e.bufs.length; r++) {
		let i = e.bufs[r];
		t.set(i, n), n += i.length;
	}
	return t.set(new Uint8Array(e.cbuf.buffer, 0, e.cpos), n), t;
}, be = (e, t) => {
	let n = e.cbuf.length;
	n - e.cpos < t && (e.bufs.push(new Uint8Array(e.cbuf.buffer, 0, e.cpos)), e.cbuf = new Uint8Array(g(n, t) * 2), e.cpos = 0);
}, y = (e, t) => {
	let n = e.cbuf.length;
	e.cpos === n && (e.bufs.push(e.cbuf), e.cbuf = new Uint8Array(n * 2), e.cpos = 0), e.cbuf[e.cpos++] = t;
}, xe = y, b = (e, t) => {
	for (; t > 127;) y(e, 128 | 127 & t), t = m(t / 128);
	y(e, 127 & t);
}, Se = (e, t) => {
	let n = re(t);
	for (n && (t = -t), y(e, (t > 63 ? 128 : 0) | (n ? 64 : 0) | 63 & t), t = m(t / 64); t > 0;) y(e, (t > 127 ? 128 : 0) | 127 & t), t = m(t / 128);
}, Ce = /* @__PURE__ */ new Uint8Array(3e4), we = Ce.length / 3, Te = me && me.encodeInto ? (e, t) => {
	if (t.length < we) {
		/* c8 ignore next */
		let n = me.encodeInto(t, Ce).written || 0;
		b(e, n);
		for (let t = 0; t < n; t++) y(e, Ce[t]);
	} else x(e, he(t));
} : (e, t) => {
	let n = unescape(encodeURIComponent(t)), r = n.length;
	b(e, r);
	for (let t = 0; t < r; t++) y(e, n.codePointAt(t));
}, Ee = (e, t) => {
	let n = e.cbuf.length, r = e.cpos, i = te(n - r, t.length), a = t.length - i;
	e.cbuf.set(t.subarray(0, i), r), e.cpos += i, a > 0 && (e.bufs.push(e.cbuf), e.cbuf = new Uint8Array(g(n * 2, a)), e.cbuf.set(t.subarray(i)), e.cpos = a);
}, x = (e, t) => {
	b(e, t.byteLength), Ee(e, t);
}, De = (e, t) => {
	be(e, t);
	let n = new DataView(e.cbuf.buffer, e.cpos, t);
	return e.cpos += t, n;
}, Oe = (e, t) => De(e, 4).setFloat32(0, t, !1), ke = (e, t) => De(e, 8).setFloat64(0, t, !1), Ae = (e, t) => De(e, 8).setBigInt64(0, t, !1), je = /* @__PURE__ */ new DataView(/* @__PURE__ */ new ArrayBuffer(4)), Me = (e) => (je.setFloat32(0, e), je.getFloat32(0) === e), Ne = (e, t) => {
	switch (typeof t) {
		case "string":
			y(e, 119), Te(e, t);
			break;
		case "number":
			oe(t) && h(t) <= 0x7fffffff ? (y(e, 125), Se(e, t)) : Me(t) ? (y(e, 124), Oe(e, t)) : (y(e, 123), ke(e, t));
			break;
		case "bigint":
			y(e, 122), Ae(e, t);
			break;
		case "object":
			if (t === null) y(e, 126);
			else if (f(t)) {
				y(e, 117), b(e, t.length);
				for (let n = 0; n < t.length; n++) Ne(e, t[n]);
			} else if (t instanceof Uint8Array) y(e, 116), x(e, t);
			else {
				y(e, 118);
				let n = Object.keys(t);
				b(e, n.length);
				for (let r = 0; r < n.length; r++) {
					let i = n[r];
					Te(e, i), Ne(e, t[i]);
				}
			}
			break;
		case "boolean":
			y(e, t ? 120 : 121);
			break;
		default: y(e, 127);
	}
}, Pe = class extends ve {
	constructor(e) {
		super(), this.w = e, this.s = null, this.count = 0;
	}
	write(e) {
		this.s === e ? this.count++ : (this.count > 0 && b(this, this.count - 1), this.count = 1, this.w(this, e), this.s = e);
	}
}, Fe = (e) => {
	e.count > 0 && (Se(e.encoder, e.count === 1 ? e.s : -e.s), e.count > 1 && b(e.encoder, e.count - 2));
}, Ie = class {
	constructor() {
		this.encoder = new ve(), this.s = 0, this.count = 0;
	}
	write(e) {
		this.s === e ? this.count++ : (Fe(this), this.count = 1, this.s = e);
	}
	toUint8Array() {
		return Fe(this), v(this.encoder);
	}
}, Le = (e) => {
	if (e.count > 0) {
		let t = e.diff * 2 + (e.count === 1 ? 0 : 1);
		Se(e.encoder, t), e.count > 1 && b(e.encoder, e.count - 2);
	}
}, Re = class {
	constructor() {
		this.encoder = new ve(), this.s = 0, this.count = 0, this.diff = 0;
	}
	write(e) {
		this.diff === e - this.s ? (this.s = e, this.count++) : (Le(this), this.count = 1, this.diff = e - this.s, this.s = e);
	}
	toUint8Array() {
		return Le(this), v(this.encoder);
	}
}, ze = class {
	constructor() {
		this.sarr = [], this.s = "", this.lensE = new Ie();
	}
	write(e) {
		this.s += e, this.s.length > 19 && (this.sarr.push(this.s), this.s = ""), this.lensE.write(e.length);
	}
	toUint8Array() {
		let e = new ve();
		return this.sarr.push(this.s), this.s = "", Te(e, this.sarr.join("")), Ee(e, this.lensE.toUint8Array()), v(e);
	}
}, S = (e) => Error(e), C = () => {
	throw S("Method unimplemented");
}, w = () => {
	throw S("Unexpected case");
}, Be = S("Unexpected end of array"), Ve = S("Integer out of Range"), He = (e, t, n) => {
	if (t < 0 || n < 0 || t + n > e.length) throw Be;
	return new Uint8Array(e.buffer, e.byteOffset + t, n);
}, Ue = (e, t, n) => {
	if (t < 0 || n < 0 || t + n > e.length) throw Be;
	return new DataView(e.buffer, e.byteOffset + t, n);
}, We = class {
	constructor(e) {
		this.arr = e, this.pos = 0;
	}
}, T = (e) => new We(e), Ge = (e) => e.pos !== e.arr.length, Ke = (e, t) => {
	let n = He(e.arr, e.pos, t);
	return e.pos += t, n;
}, E = (e) => Ke(e, D(e)), qe = (e) => e.arr[e.pos++], D = (e) => {
	let t = 0, n = 1, r = e.arr.length;
	for (; e.pos < r;) {
		let r = e.arr[e.pos++];
		if (t += (r & 127) * n, n *= 128, r < 128) return t;
		/* c8 ignore start */
		if (t > ie) throw Ve;
	}
	throw Be;
}, Je = (e) => {
	let t = e.arr[e.pos++], n = t & 63, r = 64, i = (t & 64) > 0 ? -1 : 1;
	if (!(t & 128)) return i * n;
	let a = e.arr.length;
	for (; e.pos < a;) {
		if (t = e.arr[e.pos++], n += (t & 127) * r, r *= 128, t < 128) return i * n;
		/* c8 ignore start */
		if (n > ie) throw Ve;
	}
	throw Be;
}, O = ge ? (e) => ge.decode(E(e)) : (e) => {
	let t = D(e);
	if (t === 0) return "";
	{
		let n = String.fromCodePoint(qe(e));
		if (--t < 100) for (; t--;) n += String.fromCodePoint(qe(e));
		else for (; t > 0;) {
			let r = t < 1e4 ? t : 1e4, i = e.arr.subarray(e.pos, e.pos + r);
			e.pos += r, n += String.fromCodePoint.apply(null, i), t -= r;
		}
		return decodeURIComponent(escape(n));
	}
}, Ye = (e, t) => {
	let n = Ue(e.arr, e.pos, t);
	return e.pos += t, n;
}, Xe = [
	(e) => void 0,
	(e) => null,
	Je,
	(e) => Ye(e, 4).getFloat32(0, !1),
	(e) => Ye(e, 8).getFloat64(0, !1),
	(e) => Ye(e, 8).getBigInt64(0, !1),
	(e) => !1,
	(e) => !0,
	O,
	(e) => {
		let t = D(e), n = {};
		for (let r = 0; r < t; r++) {
			let t = O(e);
			n[t] = Ze(e);
		}
		return n;
	},
	(e) => {
		let t = D(e), n = [];
		for (let r = 0; r < t; r++) n.push(Ze(e));
		return n;
	},
	E
], Ze = (e) => Xe[127 - qe(e)](e), Qe = class extends We {
	constructor(e, t) {
		super(e), this.reader = t, this.s = null, this.count = 0;
	}
	read() {
		return this.count === 0 && (this.s = this.reader(this), this.count = Ge(this) ? D(this) + 1 : -1), this.count--, this.s;
	}
}, $e = class extends We {
	constructor(e) {
		super(e), this.s = 0, this.count = 0;
	}
	read() {
		if (this.count === 0) {
			this.s = Je(this);
			let e = re(this.s);
			this.count = 1, e && (this.s = -this.s, this.count = D(this) + 2);
		}
		return this.count--, this.s;
	}
}, et = class extends We {
	constructor(e) {
		super(e), this.s = 0, this.count = 0, this.diff = 0;
	}
	read() {
		if (this.count === 0) {
			let e = Je(this), t = e & 1;
			this.diff = m(e / 2), this.count = 1, t && (this.count = D(this) + 2);
		}
		return this.s += this.diff, this.count--, this.s;
	}
}, tt = class {
	constructor(e) {
		this.decoder = new $e(e), this.str = O(this.decoder), this.spos = 0;
	}
	read() {
		let e = this.spos + this.decoder.read(), t = this.str.slice(this.spos, e);
		return this.spos = e, t;
	}
};
crypto.subtle;
var nt = crypto.getRandomValues.bind(crypto), rt = () => nt(/* @__PURE__ */ new Uint32Array(1))[0], it = "10000000-1000-4000-8000-100000000000", at = () => it.replace(/[018]/g, (e) => (e ^ rt() & 15 >> e / 4).toString(16)), k = Date.now, ot = (e) => new Promise(e);
Promise.all.bind(Promise);
// node_modules/lib0/conditions.js
/* c8 ignore next */
var st = (e) => e === void 0 ? null : e, ct = new class {
	constructor() {
		this.map = /* @__PURE__ */ new Map();
	}
	setItem(e, t) {
		this.map.set(e, t);
	}
	getItem(e) {
		return this.map.get(e);
	}
}(), lt = !0;
/* c8 ignore start */
try {
	typeof window < "u" && typeof localStorage < "u" && localStorage && (ct = localStorage, lt = !1);
} catch {}
/* c8 ignore stop */
/* c8 ignore next */
var ut = ct, dt = (e) => lt || addEventListener("storage", e), ft = (e) => lt || removeEventListener("storage", e), pt = Symbol("Equality"), mt = (e, t) => e === t || !!e?.[pt]?.(t) || !1, ht = (e) => typeof e == "object", gt = Object.assign, _t = Object.keys, vt = (e, t) => {
	for (let n in e) t(e[n], n);
}, yt = (e, t) => {
	let n = [];
	for (let r in e) n.push(t(e[r], r));
	return n;
}, bt = (e) => _t(e).length, xt = (e) => {
	for (let t in e) return !1;
	return !0;
}, St = (e, t) => {
	for (let n in e) if (!t(e[n], n)) return !1;
	return !0;
}, Ct = (e, t) => Object.prototype.hasOwnProperty.call(e, t), wt = (e, t) => e === t || bt(e) === bt(t) && St(e, (e, n) => (e !== void 0 || Ct(t, n)) && mt(t[n], e)), Tt = Object.freeze, Et = (e) => {
	for (let t in e) {
		let n = e[t];
		(typeof n == "object" || typeof n == "function") && Et(e[t]);
	}
	return Tt(e);
}, Dt = (e, t, n = 0) => {
	try {
		for (; n < e.length; n++) e[n](...t);
	} finally {
		n < e.length && Dt(e, t, n + 1);
	}
}, Ot = (e) => e, kt = (e, t) => {
	if (e === t) return !0;
	if (e == null || t == null || e.constructor !== t.constructor && (e.constructor || Object) !== (t.constructor || Object)) return !1;
	if (e[pt] != null) return e[pt](t);
	switch (e.constructor) {
		case ArrayBuffer: e = new Uint8Array(e), t = new Uint8Array(t);
		case Uint8Array:
			if (e.byteLength !== t.byteLength) return !1;
			for (let n = 0; n < e.length; n++) if (e[n] !== t[n]) return !1;
			break;
		case Set:
			if (e.size !== t.size) return !1;
			for (let n of e) if (!t.has(n)) return !1;
			break;
		case Map:
			if (e.size !== t.size) return !1;
			for (let n of e.keys()) if (!t.has(n) || !kt(e.get(n), t.get(n))) return !1;
			break;
		case void 0:
		case Object:
			if (bt(e) !== bt(t)) return !1;
			for (let n in e) if (!Ct(e, n) || !kt(e[n], t[n])) return !1;
			break;
		case Array:
			if (e.length !== t.length) return !1;
			for (let n = 0; n < e.length; n++) if (!kt(e[n], t[n])) return !1;
			break;
		default: return !1;
	}
	return !0;
}, At = (e, t) => t.includes(e), A = typeof process < "u" && process.release && /node|io\.js/.test(process.release.name) && Object.prototype.toString.call(typeof process < "u" ? process : 0) === "[object process]", jt = typeof window < "u" && typeof document < "u" && !A;
typeof navigator < "u" && /Mac/.test(navigator.platform);
var j, Mt = [], Nt = () => {
	if (j === void 0) {
		if (A) {
			j = e();
			let t = process.argv, n = null;
			for (let e = 0; e < t.length; e++) {
				let r = t[e];
				r[0] === "-" ? (n !== null && j.set(n, ""), n = r) : n === null ? Mt.push(r) : (j.set(n, r), n = null);
			}
			n !== null && j.set(n, "");
		} else typeof location == "object" ? (j = e(), (location.search || "?").slice(1).split("&").forEach((e) => {
			if (e.length !== 0) {
				let [t, n] = e.split("=");
				j.set(`--${fe(t, "-")}`, n), j.set(`-${fe(t, "-")}`, n);
			}
		})) : j = e();
	}
	return j;
}, Pt = (e) => Nt().has(e), Ft = (e) => st(A ? process.env[e.toUpperCase().replaceAll("-", "_")] : ut.getItem(e)), It = (e) => Pt("--" + e) || Ft(e) !== null, Lt = It("production"), Rt = A && At(process.env.FORCE_COLOR, [
	"true",
	"1",
	"2"
]) || !Pt("--no-colors") && !It("no-color") && (!A || process.stdout.isTTY) && (!A || Pt("--color") || Ft("COLORTERM") !== null || (Ft("TERM") || "").includes("color")), zt = (e) => new Uint8Array(e), Bt = (e) => new Uint8Array(e), Vt = (e) => {
	let t = "";
	for (let n = 0; n < e.byteLength; n++) t += se(e[n]);
	return btoa(t);
}, Ht = (e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString("base64"), Ut = (e) => {
	let t = atob(e), n = zt(t.length);
	for (let e = 0; e < t.length; e++) n[e] = t.charCodeAt(e);
	return n;
}, Wt = (e) => new Uint8Array(Buffer.from(e, "base64")), Gt = jt ? Vt : Ht, Kt = jt ? Ut : Wt, qt = (e) => {
	let t = zt(e.byteLength);
	return t.set(e), t;
}, Jt = class {
	constructor(e, t) {
		this.left = e, this.right = t;
	}
}, M = (e, t) => new Jt(e, t), Yt = (e) => e.next() >= .5, Xt = (e, t, n) => m(e.next() * (n + 1 - t) + t), Zt = (e, t, n) => m(e.next() * (n + 1 - t) + t), Qt = (e, t, n) => Zt(e, t, n), $t = (e) => se(Qt(e, 97, 122)), en = (e, t = 0, n = 20) => {
	let r = Qt(e, t, n), i = "";
	for (let t = 0; t < r; t++) i += $t(e);
	return i;
}, tn = (e, t) => t[Qt(e, 0, t.length - 1)], nn = Symbol("0schema"), rn = class {
	constructor() {
		this._rerrs = [];
	}
	extend(e, t, n, r = null) {
		this._rerrs.push({
			path: e,
			expected: t,
			has: n,
			message: r
		});
	}
	toString() {
		let e = [];
		for (let t = this._rerrs.length - 1; t > 0; t--) {
			let n = this._rerrs[t];
			/* c8 ignore next */
			e.push(_e(" ", (this._rerrs.length - t) * 2) + `${n.path == null ? "" : `[${n.path}] `}${n.has} doesn't match ${n.expected}. ${n.message}`);
		}
		return e.join("\n");
	}
}, an = (e, t) => e === t ? !0 : e == null || t == null || e.constructor !== t.constructor ? !1 : e[pt] ? mt(e, t) : f(e) ? l(e, (e) => u(t, (t) => an(e, t))) : ht(e) ? St(e, (e, n) => an(e, t[n])) : !1, N = class {
	static _dilutes = !1;
	extends(e) {
		let [t, n] = [this.shape, e.shape];
		return this.constructor._dilutes && ([n, t] = [t, n]), an(t, n);
	}
	equals(e) {
		return this.constructor === e.constructor && kt(this.shape, e.shape);
	}
	[nn]() {
		return !0;
	}
	[pt](e) {
		return this.equals(e);
	}
	validate(e) {
		return this.check(e);
	}
	/* c8 ignore start */
	check(e, t) {
		C();
	}
	/* c8 ignore stop */
	get nullable() {
		return In(this, Zn);
	}
	get optional() {
		return new mn(this);
	}
	cast(e) {
		return tr(e, this), e;
	}
	expect(e) {
		return tr(e, this), e;
	}
}, on = class extends N {
	constructor(e, t) {
		super(), this.shape = e, this._c = t;
	}
	check(e, t = void 0) {
		let n = e?.constructor === this.shape && (this._c == null || this._c(e));
		return !n && t?.extend(null, this.shape.name, e?.constructor.name, e?.constructor === this.shape ? "Check failed" : "Constructor match failed"), n;
	}
}, P = (e, t = null) => new on(e, t);
P(on);
var sn = class extends N {
	constructor(e) {
		super(), this.shape = e;
	}
	check(e, t) {
		let n = this.shape(e);
		return !n && t?.extend(null, "custom prop", e?.constructor.name, "failed to check custom prop"), n;
	}
}, F = (e) => new sn(e);
P(sn);
var cn = class extends N {
	constructor(e) {
		super(), this.shape = e;
	}
	check(e, t) {
		let n = this.shape.some((t) => t === e);
		return !n && t?.extend(null, this.shape.join(" | "), e.toString()), n;
	}
}, ln = (...e) => new cn(e), un = P(cn), dn = RegExp.escape || ((e) => e.replace(/[().|&,$^[\]]/g, (e) => "\\" + e)), fn = (e) => {
	if (Kn.check(e)) return [dn(e)];
	if (un.check(e)) return e.shape.map((e) => e + "");
	if (Gn.check(e)) return ["[+-]?\\d+.?\\d*"];
	if (qn.check(e)) return [".*"];
	if (Ln.check(e)) return e.shape.map(fn).flat(1);
	/* c8 ignore next 2 */
	w();
};
P(class extends N {
	constructor(e) {
		super(), this.shape = e, this._r = RegExp("^" + e.map(fn).map((e) => `(${e.join("|")})`).join("") + "$");
	}
	check(e, t) {
		let n = this._r.exec(e) != null;
		return !n && t?.extend(null, this._r.toString(), e.toString(), "String doesn't match string template."), n;
	}
});
var pn = Symbol("optional"), mn = class extends N {
	constructor(e) {
		super(), this.shape = e;
	}
	check(e, t) {
		let n = e === void 0 || this.shape.check(e);
		return !n && t?.extend(null, "undefined (optional)", "()"), n;
	}
	get [pn]() {
		return !0;
	}
}, hn = P(mn), gn = class extends N {
	check(e, t) {
		return t?.extend(null, "never", typeof e), !1;
	}
};
new gn(), P(gn);
var _n = class e extends N {
	constructor(e, t = !1) {
		super(), this.shape = e, this._isPartial = t;
	}
	static _dilutes = !0;
	get partial() {
		return new e(this.shape, !0);
	}
	check(e, t) {
		return e == null ? 
		/* c8 ignore next */
		(t?.extend(null, "object", "null"), !1) : St(this.shape, (n, r) => {
			let i = this._isPartial && !Ct(e, r) || n.check(e[r], t);
			return !i && t?.extend(r.toString(), n.toString(), typeof e[r], "Object property does not match"), i;
		});
	}
}, vn = (e) => new _n(e), yn = P(_n), bn = F((e) => e != null && (e.constructor === Object || e.constructor == null)), xn = class extends N {
	constructor(e, t) {
		super(), this.shape = {
			keys: e,
			values: t
		};
	}
	check(e, t) {
		return e != null && St(e, (n, r) => {
			let i = this.shape.keys.check(r, t);
			return !i && t?.extend(r + "", "Record", typeof e, i ? "Key doesn't match schema" : "Value doesn't match value"), i && this.shape.values.check(n, t);
		});
	}
}, Sn = (e, t) => new xn(e, t), Cn = P(xn), wn = class extends N {
	constructor(e) {
		super(), this.shape = e;
	}
	check(e, t) {
		return e != null && St(this.shape, (n, r) => {
			let i = n.check(e[r], t);
			return !i && t?.extend(r.toString(), "Tuple", typeof n), i;
		});
	}
}, Tn = (...e) => new wn(e);
P(wn);
var En = class extends N {
	constructor(e) {
		super(), this.shape = e.length === 1 ? e[0] : new Fn(e);
	}
	check(e, t) {
		let n = f(e) && l(e, (e) => this.shape.check(e));
		return !n && t?.extend(null, "Array", ""), n;
	}
}, Dn = (...e) => new En(e), On = P(En), kn = F((e) => f(e)), An = class extends N {
	constructor(e, t) {
		super(), this.shape = e, this._c = t;
	}
	check(e, t) {
		let n = e instanceof this.shape && (this._c == null || this._c(e));
		return !n && t?.extend(null, this.shape.name, e?.constructor.name), n;
	}
}, jn = (e, t = null) => new An(e, t);
P(An);
var Mn = jn(N), Nn = P(class extends N {
	constructor(e) {
		super(), this.len = e.length - 1, this.args = Tn(...e.slice(-1)), this.res = e[this.len];
	}
	check(e, t) {
		let n = e.constructor === Function && e.length <= this.len;
		return !n && t?.extend(null, "function", typeof e), n;
	}
}), Pn = F((e) => typeof e == "function");
P(class extends N {
	constructor(e) {
		super(), this.shape = e;
	}
	check(e, t) {
		let n = l(this.shape, (n) => n.check(e, t));
		return !n && t?.extend(null, "Intersectinon", typeof e), n;
	}
}, (e) => e.shape.length > 0);
var Fn = class extends N {
	static _dilutes = !0;
	constructor(e) {
		super(), this.shape = e;
	}
	check(e, t) {
		let n = u(this.shape, (n) => n.check(e, t));
		return t?.extend(null, "Union", typeof e), n;
	}
}, In = (...e) => e.findIndex((e) => Ln.check(e)) >= 0 ? In(...e.map((e) => er(e)).map((e) => Ln.check(e) ? e.shape : [e]).flat(1)) : e.length === 1 ? e[0] : new Fn(e), Ln = P(Fn), Rn = () => !0, zn = F(Rn), Bn = P(sn, (e) => e.shape === Rn), Vn = F((e) => typeof e == "bigint"), Hn = F((e) => e === Vn), Un = F((e) => typeof e == "symbol");
F((e) => e === Un);
var Wn = F((e) => typeof e == "number"), Gn = F((e) => e === Wn), Kn = F((e) => typeof e == "string"), qn = F((e) => e === Kn), Jn = F((e) => typeof e == "boolean"), Yn = F((e) => e === Jn), Xn = ln(void 0);
P(cn, (e) => e.shape.length === 1 && e.shape[0] === void 0), ln(void 0);
var Zn = ln(null), Qn = P(cn, (e) => e.shape.length === 1 && e.shape[0] === null);
P(Uint8Array), P(on, (e) => e.shape === Uint8Array);
var $n = In(Wn, Kn, Zn, Xn, Vn, Jn, Un);
(() => {
	let e = Dn(zn), t = Sn(Kn, zn), n = In(Wn, Kn, Zn, Jn, e, t);
	return e.shape = n, t.shape.values = n, n;
})();
var er = (e) => {
	if (Mn.check(e)) return e;
	if (bn.check(e)) {
		let t = {};
		for (let n in e) t[n] = er(e[n]);
		return vn(t);
	}
	if (kn.check(e)) return In(...e.map(er));
	if ($n.check(e)) return ln(e);
	if (Pn.check(e)) return P(e);
	/* c8 ignore next */
	w();
}, tr = Lt ? () => {} : (e, t) => {
	let n = new rn();
	if (!t.check(e, n)) throw S(`Expected value to be of type ${t.constructor.name}.\n${n.toString()}`);
}, nr = class {
	constructor(e) {
		this.patterns = [], this.$state = e;
	}
	if(e, t) {
		return this.patterns.push({
			if: er(e),
			h: t
		}), this;
	}
	else(e) {
		return this.if(zn, e);
	}
	done() {
		return (e, t) => {
			for (let n = 0; n < this.patterns.length; n++) {
				let r = this.patterns[n];
				if (r.if.check(e)) return r.h(e, t);
			}
			throw S("Unhandled pattern");
		};
	}
}, rr = ((e) => new nr(e))(zn).if(Gn, (e, t) => Xt(t, ae, ie)).if(qn, (e, t) => en(t)).if(Yn, (e, t) => Yt(t)).if(Hn, (e, t) => BigInt(Xt(t, ae, ie))).if(Ln, (e, t) => ir(t, tn(t, e.shape))).if(yn, (e, t) => {
	let n = {};
	for (let r in e.shape) {
		let i = e.shape[r];
		if (hn.check(i)) {
			if (Yt(t)) continue;
			i = i.shape;
		}
		n[r] = rr(i, t);
	}
	return n;
}).if(On, (e, t) => {
	let n = [], r = Zt(t, 0, 42);
	for (let i = 0; i < r; i++) n.push(ir(t, e.shape));
	return n;
}).if(un, (e, t) => tn(t, e.shape)).if(Qn, (e, t) => null).if(Nn, (e, t) => {
	let n = ir(t, e.res);
	return () => n;
}).if(Bn, (e, t) => ir(t, tn(t, [
	Wn,
	Kn,
	Zn,
	Xn,
	Vn,
	Jn,
	Dn(Wn),
	Sn(In("a", "b", "c"), Wn)
]))).if(Cn, (e, t) => {
	let n = {}, r = Xt(t, 0, 3);
	for (let i = 0; i < r; i++) {
		let r = ir(t, e.shape.keys);
		n[r] = ir(t, e.shape.values);
	}
	return n;
}).done(), ir = (e, t) => rr(er(t), e), ar = typeof document < "u" ? document : {};
F((e) => e.nodeType === ur), typeof DOMParser < "u" && new DOMParser(), F((e) => e.nodeType === sr), F((e) => e.nodeType === cr);
var or = (e) => r(e, (e, t) => `${t}:${e};`).join(""), sr = ar.ELEMENT_NODE, cr = ar.TEXT_NODE;
ar.CDATA_SECTION_NODE, ar.COMMENT_NODE;
var lr = ar.DOCUMENT_NODE;
ar.DOCUMENT_TYPE_NODE;
var ur = ar.DOCUMENT_FRAGMENT_NODE;
F((e) => e.nodeType === lr);
/* c8 ignore stop */
// node_modules/lib0/symbol.js
var I = Symbol, dr = I(), fr = I(), pr = I(), mr = I(), hr = I(), gr = I(), _r = I(), vr = I(), yr = I(), br = (e) => {
	e.length === 1 && e[0]?.constructor === Function && (e = e[0]());
	let t = [], n = [], r = 0;
	for (; r < e.length; r++) {
		let n = e[r];
		if (n === void 0) break;
		if (n.constructor === String || n.constructor === Number) t.push(n);
		else if (n.constructor === Object) break;
	}
	for (r > 0 && n.push(t.join("")); r < e.length; r++) {
		let t = e[r];
		t instanceof Symbol || n.push(t);
	}
	return n;
};
k();
/* c8 ignore stop */
// node_modules/lib0/logging.js
var xr = {
	[dr]: M("font-weight", "bold"),
	[fr]: M("font-weight", "normal"),
	[pr]: M("color", "blue"),
	[hr]: M("color", "green"),
	[mr]: M("color", "grey"),
	[gr]: M("color", "red"),
	[_r]: M("color", "purple"),
	[vr]: M("color", "orange"),
	[yr]: M("color", "black")
}, Sr = Rt ? (t) => {
	t.length === 1 && t[0]?.constructor === Function && (t = t[0]());
	let n = [], r = [], i = e(), a = [], o = 0;
	for (; o < t.length; o++) {
		let e = t[o], a = xr[e];
		if (a !== void 0) i.set(a.left, a.right);
		else {
			if (e === void 0) break;
			if (e.constructor === String || e.constructor === Number) {
				let t = or(i);
				o > 0 || t.length > 0 ? (n.push("%c" + e), r.push(t)) : n.push(e);
			} else break;
		}
	}
	for (o > 0 && (a = r, a.unshift(n.join(""))); o < t.length; o++) {
		let e = t[o];
		e instanceof Symbol || a.push(e);
	}
	return a;
} : br, Cr = (...e) => {
	/* c8 ignore next */
	console.log(...Sr(e)), Tr.forEach((t) => t.print(e));
}, wr = (...e) => {
	console.warn(...Sr(e)), e.unshift(vr), Tr.forEach((t) => t.print(e));
}, Tr = a(), Er = (e) => ({
	[Symbol.iterator]() {
		return this;
	},
	next: e
}), Dr = (e, t) => Er(() => {
	let n;
	do
		n = e.next();
	while (!n.done && !t(n.value));
	return n;
}), Or = (e, t) => Er(() => {
	let { done: n, value: r } = e.next();
	return {
		done: n,
		value: n ? void 0 : t(r)
	};
}), kr = class {
	constructor(e, t) {
		this.clock = e, this.len = t;
	}
}, Ar = class {
	constructor() {
		this.clients = /* @__PURE__ */ new Map();
	}
}, jr = (e, t, n) => t.clients.forEach((t, r) => {
	let i = e.doc.store.clients.get(r);
	if (i != null) {
		let r = i[i.length - 1], a = r.id.clock + r.length;
		for (let r = 0, o = t[r]; r < t.length && o.clock < a; o = t[++r]) Ni(e, i, o.clock, o.len, n);
	}
}), Mr = (e, t) => {
	let n = 0, r = e.length - 1;
	for (; n <= r;) {
		let i = m((n + r) / 2), a = e[i], o = a.clock;
		if (o <= t) {
			if (t < o + a.len) return i;
			n = i + 1;
		} else r = i - 1;
	}
	return null;
}, Nr = (e, t) => {
	let n = e.clients.get(t.client);
	return n !== void 0 && Mr(n, t.clock) !== null;
}, Pr = (e) => {
	e.clients.forEach((e) => {
		e.sort((e, t) => e.clock - t.clock);
		let t, n;
		for (t = 1, n = 1; t < e.length; t++) {
			let r = e[n - 1], i = e[t];
			r.clock + r.len >= i.clock ? e[n - 1] = new kr(r.clock, g(r.len, i.clock + i.len - r.clock)) : (n < t && (e[n] = i), n++);
		}
		e.length = n;
	});
}, Fr = (e) => {
	let t = new Ar();
	for (let n = 0; n < e.length; n++) e[n].clients.forEach((r, i) => {
		if (!t.clients.has(i)) {
			let a = r.slice();
			for (let t = n + 1; t < e.length; t++) s(a, e[t].clients.get(i) || []);
			t.clients.set(i, a);
		}
	});
	return Pr(t), t;
}, Ir = (e, t, r, i) => {
	n(e.clients, t, () => []).push(new kr(r, i));
}, Lr = () => new Ar(), Rr = (e) => {
	let t = Lr();
	return e.clients.forEach((e, n) => {
		let r = [];
		for (let t = 0; t < e.length; t++) {
			let n = e[t];
			if (n.deleted) {
				let i = n.id.clock, a = n.length;
				if (t + 1 < e.length) for (let n = e[t + 1]; t + 1 < e.length && n.deleted; n = e[++t + 1]) a += n.length;
				r.push(new kr(i, a));
			}
		}
		r.length > 0 && t.clients.set(n, r);
	}), t;
}, zr = (e, t) => {
	b(e.restEncoder, t.clients.size), c(t.clients.entries()).sort((e, t) => t[0] - e[0]).forEach(([t, n]) => {
		e.resetDsCurVal(), b(e.restEncoder, t);
		let r = n.length;
		b(e.restEncoder, r);
		for (let t = 0; t < r; t++) {
			let r = n[t];
			e.writeDsClock(r.clock), e.writeDsLen(r.len);
		}
	});
}, Br = (e) => {
	let t = new Ar(), r = D(e.restDecoder);
	for (let i = 0; i < r; i++) {
		e.resetDsCurVal();
		let r = D(e.restDecoder), i = D(e.restDecoder);
		if (i > 0) {
			let a = n(t.clients, r, () => []);
			for (let t = 0; t < i; t++) a.push(new kr(e.readDsClock(), e.readDsLen()));
		}
	}
	return t;
}, Vr = (e, t, n) => {
	let r = new Ar(), i = D(e.restDecoder);
	for (let a = 0; a < i; a++) {
		e.resetDsCurVal();
		let i = D(e.restDecoder), a = D(e.restDecoder), o = n.clients.get(i) || [], s = R(n, i);
		for (let n = 0; n < a; n++) {
			let n = e.readDsClock(), a = n + e.readDsLen();
			if (n < s) {
				s < a && Ir(r, i, s, a - s);
				let e = z(o, n), c = o[e];
				for (!c.deleted && c.id.clock < n && (o.splice(e + 1, 0, Io(t, c, n - c.id.clock)), e++); e < o.length && (c = o[e++], c.id.clock < a);) c.deleted || (a < c.id.clock + c.length && o.splice(e, 0, Io(t, c, a - c.id.clock)), c.delete(t));
			} else Ir(r, i, n, a - n);
		}
	}
	if (r.clients.size > 0) {
		let e = new Zr();
		return b(e.restEncoder, 0), zr(e, r), e.toUint8Array();
	}
	return null;
}, Hr = rt, Ur = class e extends p {
	constructor({ guid: e = at(), collectionid: t = null, gc: n = !0, gcFilter: r = () => !0, meta: i = null, autoLoad: a = !1, shouldLoad: o = !0 } = {}) {
		super(), this.gc = n, this.gcFilter = r, this.clientID = Hr(), this.guid = e, this.collectionid = t, this.share = /* @__PURE__ */ new Map(), this.store = new Ei(), this._transaction = null, this._transactionCleanups = [], this.subdocs = /* @__PURE__ */ new Set(), this._item = null, this.shouldLoad = o, this.autoLoad = a, this.meta = i, this.isLoaded = !1, this.isSynced = !1, this.isDestroyed = !1, this.whenLoaded = ot((e) => {
			this.on("load", () => {
				this.isLoaded = !0, e(this);
			});
		});
		let s = () => ot((e) => {
			let t = (n) => {
				(n === void 0 || n === !0) && (this.off("sync", t), e());
			};
			this.on("sync", t);
		});
		this.on("sync", (e) => {
			e === !1 && this.isSynced && (this.whenSynced = s()), this.isSynced = e === void 0 || e === !0, this.isSynced && !this.isLoaded && this.emit("load", [this]);
		}), this.whenSynced = s();
	}
	load() {
		let e = this._item;
		e !== null && !this.shouldLoad && V(e.parent.doc, (e) => {
			e.subdocsLoaded.add(this);
		}, null, !0), this.shouldLoad = !0;
	}
	getSubdocs() {
		return this.subdocs;
	}
	getSubdocGuids() {
		return new Set(c(this.subdocs).map((e) => e.guid));
	}
	transact(e, t = null) {
		return V(this, e, t);
	}
	get(e, t = W) {
		let r = n(this.share, e, () => {
			let e = new t();
			return e._integrate(this, null), e;
		}), i = r.constructor;
		if (t !== W && i !== t) {
			if (i === W) {
				let n = new t();
				n._map = r._map, r._map.forEach((e) => {
					for (; e !== null; e = e.left) e.parent = n;
				}), n._start = r._start;
				for (let e = n._start; e !== null; e = e.right) e.parent = n;
				return n._length = r._length, this.share.set(e, n), n._integrate(this, null), n;
			}
			throw Error(`Type with the name ${e} has already been defined with a different constructor`);
		}
		return r;
	}
	getArray(e = "") {
		return this.get(e, ka);
	}
	getText(e = "") {
		return this.get(e, Ja);
	}
	getMap(e = "") {
		return this.get(e, G);
	}
	getXmlElement(e = "") {
		return this.get(e, $a);
	}
	getXmlFragment(e = "") {
		return this.get(e, Za);
	}
	toJSON() {
		let e = {};
		return this.share.forEach((t, n) => {
			e[n] = t.toJSON();
		}), e;
	}
	destroy() {
		this.isDestroyed = !0, c(this.subdocs).forEach((e) => e.destroy());
		let t = this._item;
		if (t !== null) {
			this._item = null;
			let n = t.content;
			n.doc = new e({
				guid: this.guid,
				...n.opts,
				shouldLoad: !1
			}), n.doc._item = t, V(t.parent.doc, (e) => {
				let r = n.doc;
				t.deleted || e.subdocsAdded.add(r), e.subdocsRemoved.add(this);
			}, null, !0);
		}
		this.emit("destroyed", [!0]), this.emit("destroy", [this]), super.destroy();
	}
}, Wr = class {
	constructor(e) {
		this.restDecoder = e;
	}
	resetDsCurVal() {}
	readDsClock() {
		return D(this.restDecoder);
	}
	readDsLen() {
		return D(this.restDecoder);
	}
}, Gr = class extends Wr {
	readLeftID() {
		return L(D(this.restDecoder), D(this.restDecoder));
	}
	readRightID() {
		return L(D(this.restDecoder), D(this.restDecoder));
	}
	readClient() {
		return D(this.restDecoder);
	}
	readInfo() {
		return qe(this.restDecoder);
	}
	readString() {
		return O(this.restDecoder);
	}
	readParentInfo() {
		return D(this.restDecoder) === 1;
	}
	readTypeRef() {
		return D(this.restDecoder);
	}
	readLen() {
		return D(this.restDecoder);
	}
	readAny() {
		return Ze(this.restDecoder);
	}
	readBuf() {
		return qt(E(this.restDecoder));
	}
	readJSON() {
		return JSON.parse(O(this.restDecoder));
	}
	readKey() {
		return O(this.restDecoder);
	}
}, Kr = class {
	constructor(e) {
		this.dsCurrVal = 0, this.restDecoder = e;
	}
	resetDsCurVal() {
		this.dsCurrVal = 0;
	}
	readDsClock() {
		return this.dsCurrVal += D(this.restDecoder), this.dsCurrVal;
	}
	readDsLen() {
		let e = D(this.restDecoder) + 1;
		return this.dsCurrVal += e, e;
	}
}, qr = class extends Kr {
	constructor(e) {
		super(e), this.keys = [], D(e), this.keyClockDecoder = new et(E(e)), this.clientDecoder = new $e(E(e)), this.leftClockDecoder = new et(E(e)), this.rightClockDecoder = new et(E(e)), this.infoDecoder = new Qe(E(e), qe), this.stringDecoder = new tt(E(e)), this.parentInfoDecoder = new Qe(E(e), qe), this.typeRefDecoder = new $e(E(e)), this.lenDecoder = new $e(E(e));
	}
	readLeftID() {
		return new bi(this.clientDecoder.read(), this.leftClockDecoder.read());
	}
	readRightID() {
		return new bi(this.clientDecoder.read(), this.rightClockDecoder.read());
	}
	readClient() {
		return this.clientDecoder.read();
	}
	readInfo() {
		return this.infoDecoder.read();
	}
	readString() {
		return this.stringDecoder.read();
	}
	readParentInfo() {
		return this.parentInfoDecoder.read() === 1;
	}
	readTypeRef() {
		return this.typeRefDecoder.read();
	}
	readLen() {
		return this.lenDecoder.read();
	}
	readAny() {
		return Ze(this.restDecoder);
	}
	readBuf() {
		return E(this.restDecoder);
	}
	readJSON() {
		return Ze(this.restDecoder);
	}
	readKey() {
		let e = this.keyClockDecoder.read();
		if (e < this.keys.length) return this.keys[e];
		{
			let e = this.stringDecoder.read();
			return this.keys.push(e), e;
		}
	}
}, Jr = class {
	constructor() {
		this.restEncoder = _();
	}
	toUint8Array() {
		return v(this.restEncoder);
	}
	resetDsCurVal() {}
	writeDsClock(e) {
		b(this.restEncoder, e);
	}
	writeDsLen(e) {
		b(this.restEncoder, e);
	}
}, Yr = class extends Jr {
	writeLeftID(e) {
		b(this.restEncoder, e.client), b(this.restEncoder, e.clock);
	}
	writeRightID(e) {
		b(this.restEncoder, e.client), b(this.restEncoder, e.clock);
	}
	writeClient(e) {
		b(this.restEncoder, e);
	}
	writeInfo(e) {
		xe(this.restEncoder, e);
	}
	writeString(e) {
		Te(this.restEncoder, e);
	}
	writeParentInfo(e) {
		b(this.restEncoder, +!!e);
	}
	writeTypeRef(e) {
		b(this.restEncoder, e);
	}
	writeLen(e) {
		b(this.restEncoder, e);
	}
	writeAny(e) {
		Ne(this.restEncoder, e);
	}
	writeBuf(e) {
		x(this.restEncoder, e);
	}
	writeJSON(e) {
		Te(this.restEncoder, JSON.stringify(e));
	}
	writeKey(e) {
		Te(this.restEncoder, e);
	}
}, Xr = class {
	constructor() {
		this.restEncoder = _(), this.dsCurrVal = 0;
	}
	toUint8Array() {
		return v(this.restEncoder);
	}
	resetDsCurVal() {
		this.dsCurrVal = 0;
	}
	writeDsClock(e) {
		let t = e - this.dsCurrVal;
		this.dsCurrVal = e, b(this.restEncoder, t);
	}
	writeDsLen(e) {
		e === 0 && w(), b(this.restEncoder, e - 1), this.dsCurrVal += e;
	}
}, Zr = class extends Xr {
	constructor() {
		super(), this.keyMap = /* @__PURE__ */ new Map(), this.keyClock = 0, this.keyClockEncoder = new Re(), this.clientEncoder = new Ie(), this.leftClockEncoder = new Re(), this.rightClockEncoder = new Re(), this.infoEncoder = new Pe(xe), this.stringEncoder = new ze(), this.parentInfoEncoder = new Pe(xe), this.typeRefEncoder = new Ie(), this.lenEncoder = new Ie();
	}
	toUint8Array() {
		let e = _();
		return b(e, 0), x(e, this.keyClockEncoder.toUint8Array()), x(e, this.clientEncoder.toUint8Array()), x(e, this.leftClockEncoder.toUint8Array()), x(e, this.rightClockEncoder.toUint8Array()), x(e, v(this.infoEncoder)), x(e, this.stringEncoder.toUint8Array()), x(e, v(this.parentInfoEncoder)), x(e, this.typeRefEncoder.toUint8Array()), x(e, this.lenEncoder.toUint8Array()), Ee(e, v(this.restEncoder)), v(e);
	}
	writeLeftID(e) {
		this.clientEncoder.write(e.client), this.leftClockEncoder.write(e.clock);
	}
	writeRightID(e) {
		this.clientEncoder.write(e.client), this.rightClockEncoder.write(e.clock);
	}
	writeClient(e) {
		this.clientEncoder.write(e);
	}
	writeInfo(e) {
		this.infoEncoder.write(e);
	}
	writeString(e) {
		this.stringEncoder.write(e);
	}
	writeParentInfo(e) {
		this.parentInfoEncoder.write(+!!e);
	}
	writeTypeRef(e) {
		this.typeRefEncoder.write(e);
	}
	writeLen(e) {
		this.lenEncoder.write(e);
	}
	writeAny(e) {
		Ne(this.restEncoder, e);
	}
	writeBuf(e) {
		x(this.restEncoder, e);
	}
	writeJSON(e) {
		Ne(this.restEncoder, e);
	}
	writeKey(e) {
		let t = this.keyMap.get(e);
		t === void 0 ? (this.keyClockEncoder.write(this.keyClock++), this.stringEncoder.write(e)) : this.keyClockEncoder.write(t);
	}
}, Qr = (e, t, n, r) => {
	r = g(r, t[0].id.clock);
	let i = z(t, r);
	b(e.restEncoder, t.length - i), e.writeClient(n), b(e.restEncoder, r);
	let a = t[i];
	a.write(e, r - a.id.clock);
	for (let n = i + 1; n < t.length; n++) t[n].write(e, 0);
}, $r = (e, t, n) => {
	let r = /* @__PURE__ */ new Map();
	n.forEach((e, n) => {
		R(t, n) > e && r.set(n, e);
	}), Di(t).forEach((e, t) => {
		n.has(t) || r.set(t, 0);
	}), b(e.restEncoder, r.size), c(r.entries()).sort((e, t) => t[0] - e[0]).forEach(([n, r]) => {
		Qr(e, t.clients.get(n), n, r);
	});
}, ei = (t, n) => {
	let r = e(), i = D(t.restDecoder);
	for (let e = 0; e < i; e++) {
		let e = D(t.restDecoder), i = Array(e), a = t.readClient(), o = D(t.restDecoder);
		r.set(a, {
			i: 0,
			refs: i
		});
		for (let r = 0; r < e; r++) {
			let e = t.readInfo();
			switch (31 & e) {
				case 0: {
					let e = t.readLen();
					i[r] = new q(L(a, o), e), o += e;
					break;
				}
				case 10: {
					let e = D(t.restDecoder);
					i[r] = new X(L(a, o), e), o += e;
					break;
				}
				default: {
					let s = !(e & 192), c = new Y(L(a, o), null, (e & 128) == 128 ? t.readLeftID() : null, null, (e & 64) == 64 ? t.readRightID() : null, s ? t.readParentInfo() ? n.get(t.readString()) : t.readLeftID() : null, s && (e & 32) == 32 ? t.readString() : null, Lo(t, e));
					i[r] = c, o += c.length;
				}
			}
		}
	}
	return r;
}, ti = (e, t, r) => {
	let i = [], a = c(r.keys()).sort((e, t) => e - t);
	if (a.length === 0) return null;
	let o = () => {
		if (a.length === 0) return null;
		let e = r.get(a[a.length - 1]);
		for (; e.refs.length === e.i;) if (a.pop(), a.length > 0) e = r.get(a[a.length - 1]);
		else return null;
		return e;
	}, s = o();
	if (s === null) return null;
	let l = new Ei(), u = /* @__PURE__ */ new Map(), d = (e, t) => {
		let n = u.get(e);
		(n == null || n > t) && u.set(e, t);
	}, f = s.refs[s.i++], p = /* @__PURE__ */ new Map(), ee = () => {
		for (let e of i) {
			let t = e.id.client, n = r.get(t);
			n ? (n.i--, l.clients.set(t, n.refs.slice(n.i)), r.delete(t), n.i = 0, n.refs = []) : l.clients.set(t, [e]), a = a.filter((e) => e !== t);
		}
		i.length = 0;
	};
	for (;;) {
		if (f.constructor !== X) {
			let a = n(p, f.id.client, () => R(t, f.id.client)) - f.id.clock;
			if (a < 0) i.push(f), d(f.id.client, f.id.clock - 1), ee();
			else {
				let n = f.getMissing(e, t);
				if (n !== null) {
					i.push(f);
					let e = r.get(n) || {
						refs: [],
						i: 0
					};
					if (e.refs.length === e.i) d(n, R(t, n)), ee();
					else {
						f = e.refs[e.i++];
						continue;
					}
				} else (a === 0 || a < f.length) && (f.integrate(e, a), p.set(f.id.client, f.id.clock + f.length));
			}
		}
		if (i.length > 0) f = i.pop();
		else if (s !== null && s.i < s.refs.length) f = s.refs[s.i++];
		else {
			if (s = o(), s === null) break;
			f = s.refs[s.i++];
		}
	}
	if (l.clients.size > 0) {
		let e = new Zr();
		return $r(e, l, /* @__PURE__ */ new Map()), b(e.restEncoder, 0), {
			missing: u,
			update: e.toUint8Array()
		};
	}
	return null;
}, ni = (e, t) => $r(e, t.doc.store, t.beforeState), ri = (e, t, n, r = new qr(e)) => V(t, (e) => {
	e.local = !1;
	let t = !1, n = e.doc, i = n.store, a = ti(e, i, ei(r, n)), o = i.pendingStructs;
	if (o) {
		for (let [e, n] of o.missing) if (n < R(i, e)) {
			t = !0;
			break;
		}
		if (a) {
			for (let [e, t] of a.missing) {
				let n = o.missing.get(e);
				(n == null || n > t) && o.missing.set(e, t);
			}
			o.update = Ki([o.update, a.update]);
		}
	} else i.pendingStructs = a;
	let s = Vr(r, e, i);
	if (i.pendingDs) {
		let t = new qr(T(i.pendingDs));
		D(t.restDecoder);
		let n = Vr(t, e, i);
		i.pendingDs = s && n ? Ki([s, n]) : s || n;
	} else i.pendingDs = s;
	if (t) {
		let t = i.pendingStructs.update;
		i.pendingStructs = null, ii(e.doc, t);
	}
}, n, !1), ii = (e, t, n, r = qr) => {
	let i = T(t);
	ri(i, e, n, new r(i));
}, ai = (e, t, n) => ii(e, t, n, Gr), oi = (e, t, n = /* @__PURE__ */ new Map()) => {
	$r(e, t.store, n), zr(e, Rr(t.store));
}, si = (e, t = new Uint8Array([0]), n = new Zr()) => {
	oi(n, e, ui(t));
	let r = [n.toUint8Array()];
	if (e.store.pendingDs && r.push(e.store.pendingDs), e.store.pendingStructs && r.push(qi(e.store.pendingStructs.update, t)), r.length > 1) {
		if (n.constructor === Yr) return Wi(r.map((e, t) => t === 0 ? e : Zi(e)));
		if (n.constructor === Zr) return Ki(r);
	}
	return r[0];
}, ci = (e, t) => si(e, t, new Yr()), li = (e) => {
	let t = /* @__PURE__ */ new Map(), n = D(e.restDecoder);
	for (let r = 0; r < n; r++) {
		let n = D(e.restDecoder), r = D(e.restDecoder);
		t.set(n, r);
	}
	return t;
}, ui = (e) => li(new Wr(T(e))), di = (e, t) => (b(e.restEncoder, t.size), c(t.entries()).sort((e, t) => t[0] - e[0]).forEach(([t, n]) => {
	b(e.restEncoder, t), b(e.restEncoder, n);
}), e), fi = (e, t) => di(e, Di(t.store)), pi = (e, t = new Xr()) => (e instanceof Map ? di(t, e) : fi(t, e), t.toUint8Array()), mi = (e) => pi(e, new Jr()), hi = class {
	constructor() {
		this.l = [];
	}
}, gi = () => new hi(), _i = (e, t) => e.l.push(t), vi = (e, t) => {
	let n = e.l, r = n.length;
	e.l = n.filter((e) => t !== e), r === e.l.length && console.error("[yjs] Tried to remove event handler that doesn't exist.");
}, yi = (e, t, n) => Dt(e.l, [t, n]), bi = class {
	constructor(e, t) {
		this.client = e, this.clock = t;
	}
}, xi = (e, t) => e === t || e !== null && t !== null && e.client === t.client && e.clock === t.clock, L = (e, t) => new bi(e, t), Si = (e) => {
	for (let [t, n] of e.doc.share.entries()) if (n === e) return t;
	throw w();
}, Ci = class {
	constructor(e, t) {
		this.ds = e, this.sv = t;
	}
};
((e, t) => new Ci(e, t))(Lr(), /* @__PURE__ */ new Map());
var wi = (e, t) => t === void 0 ? !e.deleted : t.sv.has(e.id.client) && (t.sv.get(e.id.client) || 0) > e.id.clock && !Nr(t.ds, e.id), Ti = (e, t) => {
	let r = n(e.meta, Ti, a), i = e.doc.store;
	r.has(t) || (t.sv.forEach((t, n) => {
		t < R(i, n) && B(e, L(n, t));
	}), jr(e, t.ds, (e) => {}), r.add(t));
}, Ei = class {
	constructor() {
		this.clients = /* @__PURE__ */ new Map(), this.pendingStructs = null, this.pendingDs = null;
	}
}, Di = (e) => {
	let t = /* @__PURE__ */ new Map();
	return e.clients.forEach((e, n) => {
		let r = e[e.length - 1];
		t.set(n, r.id.clock + r.length);
	}), t;
}, R = (e, t) => {
	let n = e.clients.get(t);
	if (n === void 0) return 0;
	let r = n[n.length - 1];
	return r.id.clock + r.length;
}, Oi = (e, t) => {
	let n = e.clients.get(t.id.client);
	if (n === void 0) n = [], e.clients.set(t.id.client, n);
	else {
		let e = n[n.length - 1];
		if (e.id.clock + e.length !== t.id.clock) throw w();
	}
	n.push(t);
}, z = (e, t) => {
	let n = 0, r = e.length - 1, i = e[r], a = i.id.clock;
	if (a === t) return r;
	let o = m(t / (a + i.length - 1) * r);
	for (; n <= r;) {
		if (i = e[o], a = i.id.clock, a <= t) {
			if (t < a + i.length) return o;
			n = o + 1;
		} else r = o - 1;
		o = m((n + r) / 2);
	}
	throw w();
}, ki = (e, t) => {
	let n = e.clients.get(t.client);
	return n[z(n, t.clock)];
}, Ai = (e, t, n) => {
	let r = z(t, n), i = t[r];
	return i.id.clock < n && i instanceof Y ? (t.splice(r + 1, 0, Io(e, i, n - i.id.clock)), r + 1) : r;
}, B = (e, t) => {
	let n = e.doc.store.clients.get(t.client);
	return n[Ai(e, n, t.clock)];
}, ji = (e, t, n) => {
	let r = t.clients.get(n.client), i = z(r, n.clock), a = r[i];
	return n.clock !== a.id.clock + a.length - 1 && a.constructor !== q && r.splice(i + 1, 0, Io(e, a, n.clock - a.id.clock + 1)), a;
}, Mi = (e, t, n) => {
	let r = e.clients.get(t.id.client);
	r[z(r, t.id.clock)] = n;
}, Ni = (e, t, n, r, i) => {
	if (r === 0) return;
	let a = n + r, o = Ai(e, t, n), s;
	do
		s = t[o++], a < s.id.clock + s.length && Ai(e, t, a), i(s);
	while (o < t.length && t[o].id.clock < a);
}, Pi = class {
	constructor(e, t, n) {
		this.doc = e, this.deleteSet = new Ar(), this.beforeState = Di(e.store), this.afterState = /* @__PURE__ */ new Map(), this.changed = /* @__PURE__ */ new Map(), this.changedParentTypes = /* @__PURE__ */ new Map(), this._mergeStructs = [], this.origin = t, this.meta = /* @__PURE__ */ new Map(), this.local = n, this.subdocsAdded = /* @__PURE__ */ new Set(), this.subdocsRemoved = /* @__PURE__ */ new Set(), this.subdocsLoaded = /* @__PURE__ */ new Set(), this._needFormattingCleanup = !1;
	}
}, Fi = (e, t) => t.deleteSet.clients.size === 0 && !i(t.afterState, (e, n) => t.beforeState.get(n) !== e) ? !1 : (Pr(t.deleteSet), ni(e, t), zr(e, t.deleteSet), !0), Ii = (e, t, r) => {
	let i = t._item;
	(i === null || i.id.clock < (e.beforeState.get(i.id.client) || 0) && !i.deleted) && n(e.changed, t, a).add(r);
}, Li = (e, t) => {
	let n = e[t], r = e[t - 1], i = t;
	for (; i > 0 && r.deleted === n.deleted && r.constructor === n.constructor && r.mergeWith(n); n = r, r = e[--i - 1]) n instanceof Y && n.parentSub !== null && n.parent._map.get(n.parentSub) === n && n.parent._map.set(n.parentSub, r);
	let a = t - i;
	return a && e.splice(t + 1 - a, a), a;
}, Ri = (e, t, n) => {
	for (let [r, i] of e.clients.entries()) {
		let e = t.clients.get(r);
		for (let r = i.length - 1; r >= 0; r--) {
			let a = i[r], o = a.clock + a.len;
			for (let r = z(e, a.clock), i = e[r]; r < e.length && i.id.clock < o; i = e[++r]) {
				let i = e[r];
				if (a.clock + a.len <= i.id.clock) break;
				i instanceof Y && i.deleted && !i.keep && n(i) && i.gc(t, !1);
			}
		}
	}
}, zi = (e, t) => {
	e.clients.forEach((e, n) => {
		let r = t.clients.get(n);
		for (let t = e.length - 1; t >= 0; t--) {
			let n = e[t], i = te(r.length - 1, 1 + z(r, n.clock + n.len - 1));
			for (let e = i, t = r[e]; e > 0 && t.id.clock >= n.clock; t = r[e]) e -= 1 + Li(r, e);
		}
	});
}, Bi = (e, t) => {
	if (t < e.length) {
		let n = e[t], r = n.doc, i = r.store, a = n.deleteSet, o = n._mergeStructs;
		try {
			Pr(a), n.afterState = Di(n.doc.store), r.emit("beforeObserverCalls", [n, r]);
			let e = [];
			n.changed.forEach((t, r) => e.push(() => {
				r._item !== null && r._item.deleted || r._callObserver(n, t);
			})), e.push(() => {
				n.changedParentTypes.forEach((t, r) => {
					r._dEH.l.length > 0 && (r._item === null || !r._item.deleted) && e.push(() => {
						t = t.filter((e) => e.target._item === null || !e.target._item.deleted), t.forEach((e) => {
							e.currentTarget = r, e._path = null;
						}), t.sort((e, t) => e.path.length - t.path.length), yi(r._dEH, t, n);
					});
				}), e.push(() => r.emit("afterTransaction", [n, r])), e.push(() => {
					n._needFormattingCleanup && Ga(n);
				});
			}), Dt(e, []);
		} finally {
			r.gc && Ri(a, i, r.gcFilter), zi(a, i), n.afterState.forEach((e, t) => {
				let r = n.beforeState.get(t) || 0;
				if (r !== e) {
					let e = i.clients.get(t), n = g(z(e, r), 1);
					for (let t = e.length - 1; t >= n;) t -= 1 + Li(e, t);
				}
			});
			for (let e = o.length - 1; e >= 0; e--) {
				let { client: t, clock: n } = o[e].id, r = i.clients.get(t), a = z(r, n);
				a + 1 < r.length && Li(r, a + 1) > 1 || a > 0 && Li(r, a);
			}
			if (!n.local && n.afterState.get(r.clientID) !== n.beforeState.get(r.clientID) && (Cr(vr, dr, "[yjs] ", fr, gr, "Changed the client-id because another client seems to be using it."), r.clientID = Hr()), r.emit("afterTransactionCleanup", [n, r]), r._observers.has("update")) {
				let e = new Yr();
				Fi(e, n) && r.emit("update", [
					e.toUint8Array(),
					n.origin,
					r,
					n
				]);
			}
			if (r._observers.has("updateV2")) {
				let e = new Zr();
				Fi(e, n) && r.emit("updateV2", [
					e.toUint8Array(),
					n.origin,
					r,
					n
				]);
			}
			let { subdocsAdded: s, subdocsLoaded: c, subdocsRemoved: l } = n;
			(s.size > 0 || l.size > 0 || c.size > 0) && (s.forEach((e) => {
				e.clientID = r.clientID, e.collectionid ??= r.collectionid, r.subdocs.add(e);
			}), l.forEach((e) => r.subdocs.delete(e)), r.emit("subdocs", [
				{
					loaded: c,
					added: s,
					removed: l
				},
				r,
				n
			]), l.forEach((e) => e.destroy())), e.length <= t + 1 ? (r._transactionCleanups = [], r.emit("afterAllTransactions", [r, e])) : Bi(e, t + 1);
		}
	}
}, V = (e, t, n = null, r = !0) => {
	let i = e._transactionCleanups, a = !1, o = null;
	e._transaction === null && (a = !0, e._transaction = new Pi(e, n, r), i.push(e._transaction), i.length === 1 && e.emit("beforeAllTransactions", [e]), e.emit("beforeTransaction", [e._transaction, e]));
	try {
		o = t(e._transaction);
	} finally {
		if (a) {
			let t = e._transaction === i[0];
			e._transaction = null, t && Bi(i, 0);
		}
	}
	return o;
};
function* Vi(e) {
	let t = D(e.restDecoder);
	for (let n = 0; n < t; n++) {
		let t = D(e.restDecoder), n = e.readClient(), r = D(e.restDecoder);
		for (let i = 0; i < t; i++) {
			let t = e.readInfo();
			if (t === 10) {
				let t = D(e.restDecoder);
				yield new X(L(n, r), t), r += t;
			} else if (31 & t) {
				let i = !(t & 192), a = new Y(L(n, r), null, (t & 128) == 128 ? e.readLeftID() : null, null, (t & 64) == 64 ? e.readRightID() : null, i ? e.readParentInfo() ? e.readString() : e.readLeftID() : null, i && (t & 32) == 32 ? e.readString() : null, Lo(e, t));
				yield a, r += a.length;
			} else {
				let t = e.readLen();
				yield new q(L(n, r), t), r += t;
			}
		}
	}
}
var Hi = class {
	constructor(e, t) {
		this.gen = Vi(e), this.curr = null, this.done = !1, this.filterSkips = t, this.next();
	}
	next() {
		do
			this.curr = this.gen.next().value || null;
		while (this.filterSkips && this.curr !== null && this.curr.constructor === X);
		return this.curr;
	}
}, Ui = class {
	constructor(e) {
		this.currClient = 0, this.startClock = 0, this.written = 0, this.encoder = e, this.clientStructs = [];
	}
}, Wi = (e) => Ki(e, Gr, Yr), Gi = (e, t) => {
	if (e.constructor === q) {
		let { client: n, clock: r } = e.id;
		return new q(L(n, r + t), e.length - t);
	}
	if (e.constructor === X) {
		let { client: n, clock: r } = e.id;
		return new X(L(n, r + t), e.length - t);
	}
	{
		let n = e, { client: r, clock: i } = n.id;
		return new Y(L(r, i + t), null, L(r, i + t - 1), null, n.rightOrigin, n.parent, n.parentSub, n.content.splice(t));
	}
}, Ki = (e, t = qr, n = Zr) => {
	if (e.length === 1) return e[0];
	let r = e.map((e) => new t(T(e))), i = r.map((e) => new Hi(e, !0)), a = null, o = new n(), s = new Ui(o);
	for (; i = i.filter((e) => e.curr !== null), i.sort((e, t) => {
		if (e.curr.id.client === t.curr.id.client) {
			let n = e.curr.id.clock - t.curr.id.clock;
			return n === 0 ? e.curr.constructor === t.curr.constructor ? 0 : e.curr.constructor === X ? 1 : -1 : n;
		}
		return t.curr.id.client - e.curr.id.client;
	}), i.length !== 0;) {
		let e = i[0], t = e.curr.id.client;
		if (a !== null) {
			let n = e.curr, r = !1;
			for (; n !== null && n.id.clock + n.length <= a.struct.id.clock + a.struct.length && n.id.client >= a.struct.id.client;) n = e.next(), r = !0;
			if (n === null || n.id.client !== t || r && n.id.clock > a.struct.id.clock + a.struct.length) continue;
			if (t !== a.struct.id.client) H(s, a.struct, a.offset), a = {
				struct: n,
				offset: 0
			}, e.next();
			else if (a.struct.id.clock + a.struct.length < n.id.clock) {
				if (a.struct.constructor === X) a.struct.length = n.id.clock + n.length - a.struct.id.clock;
				else {
					H(s, a.struct, a.offset);
					let e = n.id.clock - a.struct.id.clock - a.struct.length;
					a = {
						struct: new X(L(t, a.struct.id.clock + a.struct.length), e),
						offset: 0
					};
				}
			} else {
				let t = a.struct.id.clock + a.struct.length - n.id.clock;
				t > 0 && (a.struct.constructor === X ? a.struct.length -= t : n = Gi(n, t)), a.struct.mergeWith(n) || (H(s, a.struct, a.offset), a = {
					struct: n,
					offset: 0
				}, e.next());
			}
		} else a = {
			struct: e.curr,
			offset: 0
		}, e.next();
		for (let n = e.curr; n !== null && n.id.client === t && n.id.clock === a.struct.id.clock + a.struct.length && n.constructor !== X; n = e.next()) H(s, a.struct, a.offset), a = {
			struct: n,
			offset: 0
		};
	}
	return a !== null && (H(s, a.struct, a.offset), a = null), Yi(s), zr(o, Fr(r.map((e) => Br(e)))), o.toUint8Array();
}, qi = (e, t, n = qr, r = Zr) => {
	let i = ui(t), a = new r(), o = new Ui(a), s = new n(T(e)), c = new Hi(s, !1);
	for (; c.curr;) {
		let e = c.curr, t = e.id.client, n = i.get(t) || 0;
		if (c.curr.constructor === X) c.next();
		else if (e.id.clock + e.length > n) for (H(o, e, g(n - e.id.clock, 0)), c.next(); c.curr && c.curr.id.client === t;) H(o, c.curr, 0), c.next();
		else for (; c.curr && c.curr.id.client === t && c.curr.id.clock + c.curr.length <= n;) c.next();
	}
	return Yi(o), zr(a, Br(s)), a.toUint8Array();
}, Ji = (e) => {
	e.written > 0 && (e.clientStructs.push({
		written: e.written,
		restEncoder: v(e.encoder.restEncoder)
	}), e.encoder.restEncoder = _(), e.written = 0);
}, H = (e, t, n) => {
	e.written > 0 && e.currClient !== t.id.client && Ji(e), e.written === 0 && (e.currClient = t.id.client, e.encoder.writeClient(t.id.client), b(e.encoder.restEncoder, t.id.clock + n)), t.write(e.encoder, n), e.written++;
}, Yi = (e) => {
	Ji(e);
	let t = e.encoder.restEncoder;
	b(t, e.clientStructs.length);
	for (let n = 0; n < e.clientStructs.length; n++) {
		let r = e.clientStructs[n];
		b(t, r.written), Ee(t, r.restEncoder);
	}
}, Xi = (e, t, n, r) => {
	let i = new n(T(e)), a = new Hi(i, !1), o = new r(), s = new Ui(o);
	for (let e = a.curr; e !== null; e = a.next()) H(s, t(e), 0);
	return Yi(s), zr(o, Br(i)), o.toUint8Array();
}, Zi = (e) => Xi(e, Ot, qr, Yr), Qi = "You must not compute changes after the event-handler fired.", $i = class {
	constructor(e, t) {
		this.target = e, this.currentTarget = e, this.transaction = t, this._changes = null, this._keys = null, this._delta = null, this._path = null;
	}
	get path() {
		return this._path ||= ea(this.currentTarget, this.target);
	}
	deletes(e) {
		return Nr(this.transaction.deleteSet, e.id);
	}
	get keys() {
		if (this._keys === null) {
			if (this.transaction.doc._transactionCleanups.length === 0) throw S(Qi);
			let e = /* @__PURE__ */ new Map(), t = this.target;
			this.transaction.changed.get(t).forEach((n) => {
				if (n !== null) {
					let r = t._map.get(n), i, a;
					if (this.adds(r)) {
						let e = r.left;
						for (; e !== null && this.adds(e);) e = e.left;
						if (this.deletes(r)) {
							if (e !== null && this.deletes(e)) i = "delete", a = o(e.content.getContent());
							else return;
						} else e !== null && this.deletes(e) ? (i = "update", a = o(e.content.getContent())) : (i = "add", a = void 0);
					} else if (this.deletes(r)) i = "delete", a = o(r.content.getContent());
					else return;
					e.set(n, {
						action: i,
						oldValue: a
					});
				}
			}), this._keys = e;
		}
		return this._keys;
	}
	get delta() {
		return this.changes.delta;
	}
	adds(e) {
		return e.id.clock >= (this.transaction.beforeState.get(e.id.client) || 0);
	}
	get changes() {
		let e = this._changes;
		if (e === null) {
			if (this.transaction.doc._transactionCleanups.length === 0) throw S(Qi);
			let t = this.target, n = a(), r = a(), i = [];
			if (e = {
				added: n,
				deleted: r,
				delta: i,
				keys: this.keys
			}, this.transaction.changed.get(t).has(null)) {
				let e = null, a = () => {
					e && i.push(e);
				};
				for (let i = t._start; i !== null; i = i.right) i.deleted ? this.deletes(i) && !this.adds(i) && ((e === null || e.delete === void 0) && (a(), e = { delete: 0 }), e.delete += i.length, r.add(i)) : this.adds(i) ? ((e === null || e.insert === void 0) && (a(), e = { insert: [] }), e.insert = e.insert.concat(i.content.getContent()), n.add(i)) : ((e === null || e.retain === void 0) && (a(), e = { retain: 0 }), e.retain += i.length);
				e !== null && e.retain === void 0 && a();
			}
			this._changes = e;
		}
		return e;
	}
}, ea = (e, t) => {
	let n = [];
	for (; t._item !== null && t !== e;) {
		if (t._item.parentSub !== null) n.unshift(t._item.parentSub);
		else {
			let e = 0, r = t._item.parent._start;
			for (; r !== t._item && r !== null;) !r.deleted && r.countable && (e += r.length), r = r.right;
			n.unshift(e);
		}
		t = t._item.parent;
	}
	return n;
}, U = () => {
	wr("Invalid access: Add Yjs type to a document before reading data.");
}, ta = 80, na = 0, ra = class {
	constructor(e, t) {
		e.marker = !0, this.p = e, this.index = t, this.timestamp = na++;
	}
}, ia = (e) => {
	e.timestamp = na++;
}, aa = (e, t, n) => {
	e.p.marker = !1, e.p = t, t.marker = !0, e.index = n, e.timestamp = na++;
}, oa = (e, t, n) => {
	if (e.length >= ta) {
		let r = e.reduce((e, t) => e.timestamp < t.timestamp ? e : t);
		return aa(r, t, n), r;
	}
	{
		let r = new ra(t, n);
		return e.push(r), r;
	}
}, sa = (e, t) => {
	if (e._start === null || t === 0 || e._searchMarker === null) return null;
	let n = e._searchMarker.length === 0 ? null : e._searchMarker.reduce((e, n) => h(t - e.index) < h(t - n.index) ? e : n), r = e._start, i = 0;
	for (n !== null && (r = n.p, i = n.index, ia(n)); r.right !== null && i < t;) {
		if (!r.deleted && r.countable) {
			if (t < i + r.length) break;
			i += r.length;
		}
		r = r.right;
	}
	for (; r.left !== null && i > t;) r = r.left, !r.deleted && r.countable && (i -= r.length);
	for (; r.left !== null && r.left.id.client === r.id.client && r.left.id.clock + r.left.length === r.id.clock;) r = r.left, !r.deleted && r.countable && (i -= r.length);
	return n !== null && h(n.index - i) < r.parent.length / ta ? (aa(n, r, i), n) : oa(e._searchMarker, r, i);
}, ca = (e, t, n) => {
	for (let r = e.length - 1; r >= 0; r--) {
		let i = e[r];
		if (n > 0) {
			let t = i.p;
			for (t.marker = !1; t && (t.deleted || !t.countable);) t = t.left, t && !t.deleted && t.countable && (i.index -= t.length);
			if (t === null || t.marker === !0) {
				e.splice(r, 1);
				continue;
			}
			i.p = t, t.marker = !0;
		}
		(t < i.index || n > 0 && t === i.index) && (i.index = g(t, i.index + n));
	}
}, la = (e, t, r) => {
	let i = e, a = t.changedParentTypes;
	for (; n(a, e, () => []).push(r), e._item !== null;) e = e._item.parent;
	yi(i._eH, r, t);
}, W = class {
	constructor() {
		this._item = null, this._map = /* @__PURE__ */ new Map(), this._start = null, this.doc = null, this._length = 0, this._eH = gi(), this._dEH = gi(), this._searchMarker = null;
	}
	get parent() {
		return this._item ? this._item.parent : null;
	}
	_integrate(e, t) {
		this.doc = e, this._item = t;
	}
	_copy() {
		throw C();
	}
	clone() {
		throw C();
	}
	_write(e) {}
	get _first() {
		let e = this._start;
		for (; e !== null && e.deleted;) e = e.right;
		return e;
	}
	_callObserver(e, t) {
		!e.local && this._searchMarker && (this._searchMarker.length = 0);
	}
	observe(e) {
		_i(this._eH, e);
	}
	observeDeep(e) {
		_i(this._dEH, e);
	}
	unobserve(e) {
		vi(this._eH, e);
	}
	unobserveDeep(e) {
		vi(this._dEH, e);
	}
	toJSON() {}
}, ua = (e, t, n) => {
	e.doc ?? U(), t < 0 && (t = e._length + t), n < 0 && (n = e._length + n);
	let r = n - t, i = [], a = e._start;
	for (; a !== null && r > 0;) {
		if (a.countable && !a.deleted) {
			let e = a.content.getContent();
			if (e.length <= t) t -= e.length;
			else {
				for (let n = t; n < e.length && r > 0; n++) i.push(e[n]), r--;
				t = 0;
			}
		}
		a = a.right;
	}
	return i;
}, da = (e) => {
	e.doc ?? U();
	let t = [], n = e._start;
	for (; n !== null;) {
		if (n.countable && !n.deleted) {
			let e = n.content.getContent();
			for (let n = 0; n < e.length; n++) t.push(e[n]);
		}
		n = n.right;
	}
	return t;
}, fa = (e, t) => {
	let n = 0, r = e._start;
	for (e.doc ?? U(); r !== null;) {
		if (r.countable && !r.deleted) {
			let i = r.content.getContent();
			for (let r = 0; r < i.length; r++) t(i[r], n++, e);
		}
		r = r.right;
	}
}, pa = (e, t) => {
	let n = [];
	return fa(e, (r, i) => {
		n.push(t(r, i, e));
	}), n;
}, ma = (e) => {
	let t = e._start, n = null, r = 0;
	return {
		[Symbol.iterator]() {
			return this;
		},
		next: () => {
			if (n === null) {
				for (; t !== null && t.deleted;) t = t.right;
				if (t === null) return {
					done: !0,
					value: void 0
				};
				n = t.content.getContent(), r = 0, t = t.right;
			}
			let e = n[r++];
			return n.length <= r && (n = null), {
				done: !1,
				value: e
			};
		}
	};
}, ha = (e, t) => {
	e.doc ?? U();
	let n = sa(e, t), r = e._start;
	for (n !== null && (r = n.p, t -= n.index); r !== null; r = r.right) if (!r.deleted && r.countable) {
		if (t < r.length) return r.content.getContent()[t];
		t -= r.length;
	}
}, ga = (e, t, n, r) => {
	let i = n, a = e.doc, o = a.clientID, s = a.store, c = n === null ? t._start : n.right, l = [], u = () => {
		l.length > 0 && (i = new Y(L(o, R(s, o)), i, i && i.lastId, c, c && c.id, t, null, new So(l)), i.integrate(e, 0), l = []);
	};
	r.forEach((n) => {
		if (n === null) l.push(n);
		else switch (n.constructor) {
			case Number:
			case Object:
			case Boolean:
			case Array:
			case String:
				l.push(n);
				break;
			default: switch (u(), n.constructor) {
				case Uint8Array:
				case ArrayBuffer:
					i = new Y(L(o, R(s, o)), i, i && i.lastId, c, c && c.id, t, null, new co(new Uint8Array(n))), i.integrate(e, 0);
					break;
				case Ur:
					i = new Y(L(o, R(s, o)), i, i && i.lastId, c, c && c.id, t, null, new mo(n)), i.integrate(e, 0);
					break;
				default: if (n instanceof W) i = new Y(L(o, R(s, o)), i, i && i.lastId, c, c && c.id, t, null, new Po(n)), i.integrate(e, 0);
				else throw Error("Unexpected content type in insert operation");
			}
		}
	}), u();
}, _a = () => S("Length exceeded!"), va = (e, t, n, r) => {
	if (n > t._length) throw _a();
	if (n === 0) return t._searchMarker && ca(t._searchMarker, n, r.length), ga(e, t, null, r);
	let i = n, a = sa(t, n), o = t._start;
	for (a !== null && (o = a.p, n -= a.index, n === 0 && (o = o.prev, n += o && o.countable && !o.deleted ? o.length : 0)); o !== null; o = o.right) if (!o.deleted && o.countable) {
		if (n <= o.length) {
			n < o.length && B(e, L(o.id.client, o.id.clock + n));
			break;
		}
		n -= o.length;
	}
	return t._searchMarker && ca(t._searchMarker, i, r.length), ga(e, t, o, r);
}, ya = (e, t, n) => {
	let r = (t._searchMarker || []).reduce((e, t) => t.index > e.index ? t : e, {
		index: 0,
		p: t._start
	}).p;
	if (r) for (; r.right;) r = r.right;
	return ga(e, t, r, n);
}, ba = (e, t, n, r) => {
	if (r === 0) return;
	let i = n, a = r, o = sa(t, n), s = t._start;
	for (o !== null && (s = o.p, n -= o.index); s !== null && n > 0; s = s.right) !s.deleted && s.countable && (n < s.length && B(e, L(s.id.client, s.id.clock + n)), n -= s.length);
	for (; r > 0 && s !== null;) s.deleted || (r < s.length && B(e, L(s.id.client, s.id.clock + r)), s.delete(e), r -= s.length), s = s.right;
	if (r > 0) throw _a();
	t._searchMarker && ca(t._searchMarker, i, -a + r);
}, xa = (e, t, n) => {
	let r = t._map.get(n);
	r !== void 0 && r.delete(e);
}, Sa = (e, t, n, r) => {
	let i = t._map.get(n) || null, a = e.doc, o = a.clientID, s;
	if (r == null) s = new So([r]);
	else switch (r.constructor) {
		case Number:
		case Object:
		case Boolean:
		case Array:
		case String:
		case Date:
		case BigInt:
			s = new So([r]);
			break;
		case Uint8Array:
			s = new co(r);
			break;
		case Ur:
			s = new mo(r);
			break;
		default: if (r instanceof W) s = new Po(r);
		else throw Error("Unexpected content type");
	}
	new Y(L(o, R(a.store, o)), i, i && i.lastId, null, null, t, n, s).integrate(e, 0);
}, Ca = (e, t) => {
	e.doc ?? U();
	let n = e._map.get(t);
	return n !== void 0 && !n.deleted ? n.content.getContent()[n.length - 1] : void 0;
}, wa = (e) => {
	let t = {};
	return e.doc ?? U(), e._map.forEach((e, n) => {
		e.deleted || (t[n] = e.content.getContent()[e.length - 1]);
	}), t;
}, Ta = (e, t) => {
	e.doc ?? U();
	let n = e._map.get(t);
	return n !== void 0 && !n.deleted;
}, Ea = (e, t) => {
	let n = {};
	return e._map.forEach((e, r) => {
		let i = e;
		for (; i !== null && (!t.sv.has(i.id.client) || i.id.clock >= (t.sv.get(i.id.client) || 0));) i = i.left;
		i !== null && wi(i, t) && (n[r] = i.content.getContent()[i.length - 1]);
	}), n;
}, Da = (e) => (e.doc ?? U(), Dr(e._map.entries(), (e) => !e[1].deleted)), Oa = class extends $i {}, ka = class e extends W {
	constructor() {
		super(), this._prelimContent = [], this._searchMarker = [];
	}
	static from(t) {
		let n = new e();
		return n.push(t), n;
	}
	_integrate(e, t) {
		super._integrate(e, t), this.insert(0, this._prelimContent), this._prelimContent = null;
	}
	_copy() {
		return new e();
	}
	clone() {
		let t = new e();
		return t.insert(0, this.toArray().map((e) => e instanceof W ? e.clone() : e)), t;
	}
	get length() {
		return this.doc ?? U(), this._length;
	}
	_callObserver(e, t) {
		super._callObserver(e, t), la(this, e, new Oa(this, e));
	}
	insert(e, t) {
		this.doc === null ? this._prelimContent.splice(e, 0, ...t) : V(this.doc, (n) => {
			va(n, this, e, t);
		});
	}
	push(e) {
		this.doc === null ? this._prelimContent.push(...e) : V(this.doc, (t) => {
			ya(t, this, e);
		});
	}
	unshift(e) {
		this.insert(0, e);
	}
	delete(e, t = 1) {
		this.doc === null ? this._prelimContent.splice(e, t) : V(this.doc, (n) => {
			ba(n, this, e, t);
		});
	}
	get(e) {
		return ha(this, e);
	}
	toArray() {
		return da(this);
	}
	slice(e = 0, t = this.length) {
		return ua(this, e, t);
	}
	toJSON() {
		return this.map((e) => e instanceof W ? e.toJSON() : e);
	}
	map(e) {
		return pa(this, e);
	}
	forEach(e) {
		fa(this, e);
	}
	[Symbol.iterator]() {
		return ma(this);
	}
	_write(e) {
		e.writeTypeRef(Do);
	}
}, Aa = (e) => new ka(), ja = class extends $i {
	constructor(e, t, n) {
		super(e, t), this.keysChanged = n;
	}
}, G = class e extends W {
	constructor(e) {
		super(), this._prelimContent = null, this._prelimContent = e === void 0 ? /* @__PURE__ */ new Map() : new Map(e);
	}
	_integrate(e, t) {
		super._integrate(e, t), this._prelimContent.forEach((e, t) => {
			this.set(t, e);
		}), this._prelimContent = null;
	}
	_copy() {
		return new e();
	}
	clone() {
		let t = new e();
		return this.forEach((e, n) => {
			t.set(n, e instanceof W ? e.clone() : e);
		}), t;
	}
	_callObserver(e, t) {
		la(this, e, new ja(this, e, t));
	}
	toJSON() {
		this.doc ?? U();
		let e = {};
		return this._map.forEach((t, n) => {
			if (!t.deleted) {
				let r = t.content.getContent()[t.length - 1];
				e[n] = r instanceof W ? r.toJSON() : r;
			}
		}), e;
	}
	get size() {
		return [...Da(this)].length;
	}
	keys() {
		return Or(Da(this), (e) => e[0]);
	}
	values() {
		return Or(Da(this), (e) => e[1].content.getContent()[e[1].length - 1]);
	}
	entries() {
		return Or(Da(this), (e) => [e[0], e[1].content.getContent()[e[1].length - 1]]);
	}
	forEach(e) {
		this.doc ?? U(), this._map.forEach((t, n) => {
			t.deleted || e(t.content.getContent()[t.length - 1], n, this);
		});
	}
	[Symbol.iterator]() {
		return this.entries();
	}
	delete(e) {
		this.doc === null ? this._prelimContent.delete(e) : V(this.doc, (t) => {
			xa(t, this, e);
		});
	}
	set(e, t) {
		return this.doc === null ? this._prelimContent.set(e, t) : V(this.doc, (n) => {
			Sa(n, this, e, t);
		}), t;
	}
	get(e) {
		return Ca(this, e);
	}
	has(e) {
		return Ta(this, e);
	}
	clear() {
		this.doc === null ? this._prelimContent.clear() : V(this.doc, (e) => {
			this.forEach(function(t, n, r) {
				xa(e, r, n);
			});
		});
	}
	_write(e) {
		e.writeTypeRef(Oo);
	}
}, Ma = (e) => new G(), K = (e, t) => e === t || typeof e == "object" && typeof t == "object" && e && t && wt(e, t), Na = class {
	constructor(e, t, n, r) {
		this.left = e, this.right = t, this.index = n, this.currentAttributes = r;
	}
	forward() {
		this.right === null && w(), this.right.content.constructor === J ? this.right.deleted || La(this.currentAttributes, this.right.content) : this.right.deleted || (this.index += this.right.length), this.left = this.right, this.right = this.right.right;
	}
}, Pa = (e, t, n) => {
	for (; t.right !== null && n > 0;) t.right.content.constructor === J ? t.right.deleted || La(t.currentAttributes, t.right.content) : t.right.deleted || (n < t.right.length && B(e, L(t.right.id.client, t.right.id.clock + n)), t.index += t.right.length, n -= t.right.length), t.left = t.right, t.right = t.right.right;
	return t;
}, Fa = (e, t, n, r) => {
	let i = /* @__PURE__ */ new Map(), a = r ? sa(t, n) : null;
	return a ? Pa(e, new Na(a.p.left, a.p, a.index, i), n - a.index) : Pa(e, new Na(null, t._start, 0, i), n);
}, Ia = (e, t, n, r) => {
	for (; n.right !== null && (n.right.deleted === !0 || n.right.content.constructor === J && K(r.get(n.right.content.key), n.right.content.value));) n.right.deleted || r.delete(n.right.content.key), n.forward();
	let i = e.doc, a = i.clientID;
	r.forEach((r, o) => {
		let s = n.left, c = n.right, l = new Y(L(a, R(i.store, a)), s, s && s.lastId, c, c && c.id, t, null, new J(o, r));
		l.integrate(e, 0), n.right = l, n.forward();
	});
}, La = (e, t) => {
	let { key: n, value: r } = t;
	r === null ? e.delete(n) : e.set(n, r);
}, Ra = (e, t) => {
	for (; e.right !== null && (e.right.deleted || e.right.content.constructor === J && K(t[e.right.content.key] ?? null, e.right.content.value));) e.forward();
}, za = (e, t, n, r) => {
	let i = e.doc, a = i.clientID, o = /* @__PURE__ */ new Map();
	for (let s in r) {
		let c = r[s], l = n.currentAttributes.get(s) ?? null;
		if (!K(l, c)) {
			o.set(s, l);
			let { left: r, right: u } = n;
			n.right = new Y(L(a, R(i.store, a)), r, r && r.lastId, u, u && u.id, t, null, new J(s, c)), n.right.integrate(e, 0), n.forward();
		}
	}
	return o;
}, Ba = (e, t, n, r, i) => {
	n.currentAttributes.forEach((e, t) => {
		i[t] === void 0 && (i[t] = null);
	});
	let a = e.doc, o = a.clientID;
	Ra(n, i);
	let s = za(e, t, n, i), c = r.constructor === String ? new wo(r) : r instanceof W ? new Po(r) : new go(r), { left: l, right: u, index: d } = n;
	t._searchMarker && ca(t._searchMarker, n.index, c.getLength()), u = new Y(L(o, R(a.store, o)), l, l && l.lastId, u, u && u.id, t, null, c), u.integrate(e, 0), n.right = u, n.index = d, n.forward(), Ia(e, t, n, s);
}, Va = (e, t, n, r, i) => {
	let a = e.doc, o = a.clientID;
	Ra(n, i);
	let s = za(e, t, n, i);
	e: for (; n.right !== null && (r > 0 || s.size > 0 && (n.right.deleted || n.right.content.constructor === J));) {
		if (!n.right.deleted) switch (n.right.content.constructor) {
			case J: {
				let { key: t, value: a } = n.right.content, o = i[t];
				if (o !== void 0) {
					if (K(o, a)) s.delete(t);
					else {
						if (r === 0) break e;
						s.set(t, a);
					}
					n.right.delete(e);
				} else n.currentAttributes.set(t, a);
				break;
			}
			default: r < n.right.length && B(e, L(n.right.id.client, n.right.id.clock + r)), r -= n.right.length;
		}
		n.forward();
	}
	if (r > 0) {
		let i = "";
		for (; r > 0; r--) i += "\n";
		n.right = new Y(L(o, R(a.store, o)), n.left, n.left && n.left.lastId, n.right, n.right && n.right.id, t, null, new wo(i)), n.right.integrate(e, 0), n.forward();
	}
	Ia(e, t, n, s);
}, Ha = (t, n, r, i, a) => {
	let o = n, s = e();
	for (; o && (!o.countable || o.deleted);) {
		if (!o.deleted && o.content.constructor === J) {
			let e = o.content;
			s.set(e.key, e);
		}
		o = o.right;
	}
	let c = 0, l = !1;
	for (; n !== o;) {
		if (r === n && (l = !0), !n.deleted) {
			let e = n.content;
			switch (e.constructor) {
				case J: {
					let { key: r, value: o } = e, u = i.get(r) ?? null;
					(s.get(r) !== e || u === o) && (n.delete(t), c++, !l && (a.get(r) ?? null) === o && u !== o && (u === null ? a.delete(r) : a.set(r, u))), !l && !n.deleted && La(a, e);
					break;
				}
			}
		}
		n = n.right;
	}
	return c;
}, Ua = (e, t) => {
	for (; t && t.right && (t.right.deleted || !t.right.countable);) t = t.right;
	let n = /* @__PURE__ */ new Set();
	for (; t && (t.deleted || !t.countable);) {
		if (!t.deleted && t.content.constructor === J) {
			let r = t.content.key;
			n.has(r) ? t.delete(e) : n.add(r);
		}
		t = t.left;
	}
}, Wa = (n) => {
	let r = 0;
	return V(n.doc, (i) => {
		let a = n._start, o = n._start, s = e(), c = t(s);
		for (; o;) o.deleted === !1 && (o.content.constructor === J ? La(c, o.content) : (r += Ha(i, a, o, s, c), s = t(c), a = o)), o = o.right;
	}), r;
}, Ga = (e) => {
	let t = /* @__PURE__ */ new Set(), n = e.doc;
	for (let [r, i] of e.afterState.entries()) {
		let a = e.beforeState.get(r) || 0;
		i !== a && Ni(e, n.store.clients.get(r), a, i, (e) => {
			!e.deleted && e.content.constructor === J && e.constructor !== q && t.add(e.parent);
		});
	}
	V(n, (n) => {
		jr(e, e.deleteSet, (e) => {
			if (e instanceof q || !e.parent._hasFormatting || t.has(e.parent)) return;
			let r = e.parent;
			e.content.constructor === J ? t.add(r) : Ua(n, e);
		});
		for (let e of t) Wa(e);
	});
}, Ka = (e, n, r) => {
	let i = r, a = t(n.currentAttributes), o = n.right;
	for (; r > 0 && n.right !== null;) {
		if (n.right.deleted === !1) switch (n.right.content.constructor) {
			case Po:
			case go:
			case wo: r < n.right.length && B(e, L(n.right.id.client, n.right.id.clock + r)), r -= n.right.length, n.right.delete(e);
		}
		n.forward();
	}
	o && Ha(e, o, n.right, a, n.currentAttributes);
	let s = (n.left || n.right).parent;
	return s._searchMarker && ca(s._searchMarker, n.index, -i + r), n;
}, qa = class extends $i {
	constructor(e, t, n) {
		super(e, t), this.childListChanged = !1, this.keysChanged = /* @__PURE__ */ new Set(), n.forEach((e) => {
			e === null ? this.childListChanged = !0 : this.keysChanged.add(e);
		});
	}
	get changes() {
		if (this._changes === null) {
			let e = {
				keys: this.keys,
				delta: this.delta,
				added: /* @__PURE__ */ new Set(),
				deleted: /* @__PURE__ */ new Set()
			};
			this._changes = e;
		}
		return this._changes;
	}
	get delta() {
		if (this._delta === null) {
			let e = this.target.doc, t = [];
			V(e, (e) => {
				let n = /* @__PURE__ */ new Map(), r = /* @__PURE__ */ new Map(), i = this.target._start, a = null, o = {}, s = "", c = 0, l = 0, u = () => {
					if (a !== null) {
						let e = null;
						switch (a) {
							case "delete":
								l > 0 && (e = { delete: l }), l = 0;
								break;
							case "insert":
								(typeof s == "object" || s.length > 0) && (e = { insert: s }, n.size > 0 && (e.attributes = {}, n.forEach((t, n) => {
									t !== null && (e.attributes[n] = t);
								}))), s = "";
								break;
							case "retain": c > 0 && (e = { retain: c }, xt(o) || (e.attributes = gt({}, o))), c = 0;
						}
						e && t.push(e), a = null;
					}
				};
				for (; i !== null;) {
					switch (i.content.constructor) {
						case Po:
						case go:
							this.adds(i) ? this.deletes(i) || (u(), a = "insert", s = i.content.getContent()[0], u()) : this.deletes(i) ? (a !== "delete" && (u(), a = "delete"), l += 1) : i.deleted || (a !== "retain" && (u(), a = "retain"), c += 1);
							break;
						case wo:
							this.adds(i) ? this.deletes(i) || (a !== "insert" && (u(), a = "insert"), s += i.content.str) : this.deletes(i) ? (a !== "delete" && (u(), a = "delete"), l += i.length) : i.deleted || (a !== "retain" && (u(), a = "retain"), c += i.length);
							break;
						case J: {
							let { key: t, value: s } = i.content;
							if (this.adds(i)) this.deletes(i) || (K(n.get(t) ?? null, s) ? s !== null && i.delete(e) : (a === "retain" && u(), K(s, r.get(t) ?? null) ? delete o[t] : o[t] = s));
							else if (this.deletes(i)) {
								r.set(t, s);
								let e = n.get(t) ?? null;
								K(e, s) || (a === "retain" && u(), o[t] = e);
							} else if (!i.deleted) {
								r.set(t, s);
								let n = o[t];
								n !== void 0 && (K(n, s) ? n !== null && i.delete(e) : (a === "retain" && u(), s === null ? delete o[t] : o[t] = s));
							}
							i.deleted || (a === "insert" && u(), La(n, i.content));
							break;
						}
					}
					i = i.right;
				}
				for (u(); t.length > 0;) {
					let e = t[t.length - 1];
					if (e.retain !== void 0 && e.attributes === void 0) t.pop();
					else break;
				}
			}), this._delta = t;
		}
		return this._delta;
	}
}, Ja = class e extends W {
	constructor(e) {
		super(), this._pending = e === void 0 ? [] : [() => this.insert(0, e)], this._searchMarker = [], this._hasFormatting = !1;
	}
	get length() {
		return this.doc ?? U(), this._length;
	}
	_integrate(e, t) {
		super._integrate(e, t);
		try {
			this._pending.forEach((e) => e());
		} catch (e) {
			console.error(e);
		}
		this._pending = null;
	}
	_copy() {
		return new e();
	}
	clone() {
		let t = new e();
		return t.applyDelta(this.toDelta()), t;
	}
	_callObserver(e, t) {
		super._callObserver(e, t);
		let n = new qa(this, e, t);
		la(this, e, n), !e.local && this._hasFormatting && (e._needFormattingCleanup = !0);
	}
	toString() {
		this.doc ?? U();
		let e = "", t = this._start;
		for (; t !== null;) !t.deleted && t.countable && t.content.constructor === wo && (e += t.content.str), t = t.right;
		return e;
	}
	toJSON() {
		return this.toString();
	}
	applyDelta(e, { sanitize: t = !0 } = {}) {
		this.doc === null ? this._pending.push(() => this.applyDelta(e)) : V(this.doc, (n) => {
			let r = new Na(null, this._start, 0, /* @__PURE__ */ new Map());
			for (let i = 0; i < e.length; i++) {
				let a = e[i];
				if (a.insert !== void 0) {
					let o = !t && typeof a.insert == "string" && i === e.length - 1 && r.right === null && a.insert.slice(-1) === "\n" ? a.insert.slice(0, -1) : a.insert;
					(typeof o != "string" || o.length > 0) && Ba(n, this, r, o, a.attributes || {});
				} else a.retain === void 0 ? a.delete !== void 0 && Ka(n, r, a.delete) : Va(n, this, r, a.retain, a.attributes || {});
			}
		});
	}
	toDelta(e, t, n) {
		this.doc ?? U();
		let r = [], i = /* @__PURE__ */ new Map(), a = this.doc, o = "", s = this._start;
		function c() {
			if (o.length > 0) {
				let e = {}, t = !1;
				i.forEach((n, r) => {
					t = !0, e[r] = n;
				});
				let n = { insert: o };
				t && (n.attributes = e), r.push(n), o = "";
			}
		}
		let l = () => {
			for (; s !== null;) {
				if (wi(s, e) || t !== void 0 && wi(s, t)) switch (s.content.constructor) {
					case wo: {
						let r = i.get("ychange");
						e !== void 0 && !wi(s, e) ? (r === void 0 || r.user !== s.id.client || r.type !== "removed") && (c(), i.set("ychange", n ? n("removed", s.id) : { type: "removed" })) : t !== void 0 && !wi(s, t) ? (r === void 0 || r.user !== s.id.client || r.type !== "added") && (c(), i.set("ychange", n ? n("added", s.id) : { type: "added" })) : r !== void 0 && (c(), i.delete("ychange")), o += s.content.str;
						break;
					}
					case Po:
					case go: {
						c();
						let e = { insert: s.content.getContent()[0] };
						if (i.size > 0) {
							let t = {};
							e.attributes = t, i.forEach((e, n) => {
								t[n] = e;
							});
						}
						r.push(e);
						break;
					}
					case J: wi(s, e) && (c(), La(i, s.content));
				}
				s = s.right;
			}
			c();
		};
		return e || t ? V(a, (n) => {
			e && Ti(n, e), t && Ti(n, t), l();
		}, "cleanup") : l(), r;
	}
	insert(e, t, n) {
		if (t.length <= 0) return;
		let r = this.doc;
		r === null ? this._pending.push(() => this.insert(e, t, n)) : V(r, (r) => {
			let i = Fa(r, this, e, !n);
			n || (n = {}, i.currentAttributes.forEach((e, t) => {
				n[t] = e;
			})), Ba(r, this, i, t, n);
		});
	}
	insertEmbed(e, t, n) {
		let r = this.doc;
		r === null ? this._pending.push(() => this.insertEmbed(e, t, n || {})) : V(r, (r) => {
			let i = Fa(r, this, e, !n);
			Ba(r, this, i, t, n || {});
		});
	}
	delete(e, t) {
		if (t === 0) return;
		let n = this.doc;
		n === null ? this._pending.push(() => this.delete(e, t)) : V(n, (n) => {
			Ka(n, Fa(n, this, e, !0), t);
		});
	}
	format(e, t, n) {
		if (t === 0) return;
		let r = this.doc;
		r === null ? this._pending.push(() => this.format(e, t, n)) : V(r, (r) => {
			let i = Fa(r, this, e, !1);
			i.right !== null && Va(r, this, i, t, n);
		});
	}
	removeAttribute(e) {
		this.doc === null ? this._pending.push(() => this.removeAttribute(e)) : V(this.doc, (t) => {
			xa(t, this, e);
		});
	}
	setAttribute(e, t) {
		this.doc === null ? this._pending.push(() => this.setAttribute(e, t)) : V(this.doc, (n) => {
			Sa(n, this, e, t);
		});
	}
	getAttribute(e) {
		return Ca(this, e);
	}
	getAttributes() {
		return wa(this);
	}
	_write(e) {
		e.writeTypeRef(ko);
	}
}, Ya = (e) => new Ja(), Xa = class {
	constructor(e, t = () => !0) {
		this._filter = t, this._root = e, this._currentNode = e._start, this._firstCall = !0, e.doc ?? U();
	}
	[Symbol.iterator]() {
		return this;
	}
	next() {
		let e = this._currentNode, t = e && e.content && e.content.type;
		if (e !== null && (!this._firstCall || e.deleted || !this._filter(t))) do
			if (t = e.content.type, !e.deleted && (t.constructor === $a || t.constructor === Za) && t._start !== null) e = t._start;
			else for (; e !== null;) {
				let t = e.next;
				if (t !== null) {
					e = t;
					break;
				}
				e = e.parent === this._root ? null : e.parent._item;
			}
		while (e !== null && (e.deleted || !this._filter(e.content.type)));
		return this._firstCall = !1, e === null ? {
			value: void 0,
			done: !0
		} : (this._currentNode = e, {
			value: e.content.type,
			done: !1
		});
	}
}, Za = class e extends W {
	constructor() {
		super(), this._prelimContent = [];
	}
	get firstChild() {
		let e = this._first;
		return e ? e.content.getContent()[0] : null;
	}
	_integrate(e, t) {
		super._integrate(e, t), this.insert(0, this._prelimContent), this._prelimContent = null;
	}
	_copy() {
		return new e();
	}
	clone() {
		let t = new e();
		return t.insert(0, this.toArray().map((e) => e instanceof W ? e.clone() : e)), t;
	}
	get length() {
		return this.doc ?? U(), this._prelimContent === null ? this._length : this._prelimContent.length;
	}
	createTreeWalker(e) {
		return new Xa(this, e);
	}
	querySelector(e) {
		e = e.toUpperCase();
		let t = new Xa(this, (t) => t.nodeName && t.nodeName.toUpperCase() === e).next();
		return t.done ? null : t.value;
	}
	querySelectorAll(e) {
		return e = e.toUpperCase(), c(new Xa(this, (t) => t.nodeName && t.nodeName.toUpperCase() === e));
	}
	_callObserver(e, t) {
		la(this, e, new to(this, t, e));
	}
	toString() {
		return pa(this, (e) => e.toString()).join("");
	}
	toJSON() {
		return this.toString();
	}
	toDOM(e = document, t = {}, n) {
		let r = e.createDocumentFragment();
		return n !== void 0 && n._createAssociation(r, this), fa(this, (i) => {
			r.insertBefore(i.toDOM(e, t, n), null);
		}), r;
	}
	insert(e, t) {
		this.doc === null ? this._prelimContent.splice(e, 0, ...t) : V(this.doc, (n) => {
			va(n, this, e, t);
		});
	}
	insertAfter(e, t) {
		if (this.doc !== null) V(this.doc, (n) => {
			let r = e && e instanceof W ? e._item : e;
			ga(n, this, r, t);
		});
		else {
			let n = this._prelimContent, r = e === null ? 0 : n.findIndex((t) => t === e) + 1;
			if (r === 0 && e !== null) throw S("Reference item not found");
			n.splice(r, 0, ...t);
		}
	}
	delete(e, t = 1) {
		this.doc === null ? this._prelimContent.splice(e, t) : V(this.doc, (n) => {
			ba(n, this, e, t);
		});
	}
	toArray() {
		return da(this);
	}
	push(e) {
		this.insert(this.length, e);
	}
	unshift(e) {
		this.insert(0, e);
	}
	get(e) {
		return ha(this, e);
	}
	slice(e = 0, t = this.length) {
		return ua(this, e, t);
	}
	forEach(e) {
		fa(this, e);
	}
	_write(e) {
		e.writeTypeRef(jo);
	}
}, Qa = (e) => new Za(), $a = class e extends Za {
	constructor(e = "UNDEFINED") {
		super(), this.nodeName = e, this._prelimAttrs = /* @__PURE__ */ new Map();
	}
	get nextSibling() {
		let e = this._item ? this._item.next : null;
		return e ? e.content.type : null;
	}
	get prevSibling() {
		let e = this._item ? this._item.prev : null;
		return e ? e.content.type : null;
	}
	_integrate(e, t) {
		super._integrate(e, t), this._prelimAttrs.forEach((e, t) => {
			this.setAttribute(t, e);
		}), this._prelimAttrs = null;
	}
	_copy() {
		return new e(this.nodeName);
	}
	clone() {
		let t = new e(this.nodeName);
		return vt(this.getAttributes(), (e, n) => {
			t.setAttribute(n, e);
		}), t.insert(0, this.toArray().map((e) => e instanceof W ? e.clone() : e)), t;
	}
	toString() {
		let e = this.getAttributes(), t = [], n = [];
		for (let t in e) n.push(t);
		n.sort();
		let r = n.length;
		for (let i = 0; i < r; i++) {
			let r = n[i];
			t.push(r + "=\"" + e[r] + "\"");
		}
		let i = this.nodeName.toLocaleLowerCase();
		return `<${i}${t.length > 0 ? " " + t.join(" ") : ""}>${super.toString()}</${i}>`;
	}
	removeAttribute(e) {
		this.doc === null ? this._prelimAttrs.delete(e) : V(this.doc, (t) => {
			xa(t, this, e);
		});
	}
	setAttribute(e, t) {
		this.doc === null ? this._prelimAttrs.set(e, t) : V(this.doc, (n) => {
			Sa(n, this, e, t);
		});
	}
	getAttribute(e) {
		return Ca(this, e);
	}
	hasAttribute(e) {
		return Ta(this, e);
	}
	getAttributes(e) {
		return e ? Ea(this, e) : wa(this);
	}
	toDOM(e = document, t = {}, n) {
		let r = e.createElement(this.nodeName), i = this.getAttributes();
		for (let e in i) {
			let t = i[e];
			typeof t == "string" && r.setAttribute(e, t);
		}
		return fa(this, (i) => {
			r.appendChild(i.toDOM(e, t, n));
		}), n !== void 0 && n._createAssociation(r, this), r;
	}
	_write(e) {
		e.writeTypeRef(Ao), e.writeKey(this.nodeName);
	}
}, eo = (e) => new $a(e.readKey()), to = class extends $i {
	constructor(e, t, n) {
		super(e, n), this.childListChanged = !1, this.attributesChanged = /* @__PURE__ */ new Set(), t.forEach((e) => {
			e === null ? this.childListChanged = !0 : this.attributesChanged.add(e);
		});
	}
}, no = class e extends G {
	constructor(e) {
		super(), this.hookName = e;
	}
	_copy() {
		return new e(this.hookName);
	}
	clone() {
		let t = new e(this.hookName);
		return this.forEach((e, n) => {
			t.set(n, e);
		}), t;
	}
	toDOM(e = document, t = {}, n) {
		let r = t[this.hookName], i;
		return i = r === void 0 ? document.createElement(this.hookName) : r.createDom(this), i.setAttribute("data-yjs-hook", this.hookName), n !== void 0 && n._createAssociation(i, this), i;
	}
	_write(e) {
		e.writeTypeRef(Mo), e.writeKey(this.hookName);
	}
}, ro = (e) => new no(e.readKey()), io = class e extends Ja {
	get nextSibling() {
		let e = this._item ? this._item.next : null;
		return e ? e.content.type : null;
	}
	get prevSibling() {
		let e = this._item ? this._item.prev : null;
		return e ? e.content.type : null;
	}
	_copy() {
		return new e();
	}
	clone() {
		let t = new e();
		return t.applyDelta(this.toDelta()), t;
	}
	toDOM(e = document, t, n) {
		let r = e.createTextNode(this.toString());
		return n !== void 0 && n._createAssociation(r, this), r;
	}
	toString() {
		return this.toDelta().map((e) => {
			let t = [];
			for (let n in e.attributes) {
				let r = [];
				for (let t in e.attributes[n]) r.push({
					key: t,
					value: e.attributes[n][t]
				});
				r.sort((e, t) => e.key < t.key ? -1 : 1), t.push({
					nodeName: n,
					attrs: r
				});
			}
			t.sort((e, t) => e.nodeName < t.nodeName ? -1 : 1);
			let n = "";
			for (let e = 0; e < t.length; e++) {
				let r = t[e];
				n += `<${r.nodeName}`;
				for (let e = 0; e < r.attrs.length; e++) {
					let t = r.attrs[e];
					n += ` ${t.key}="${t.value}"`;
				}
				n += ">";
			}
			n += e.insert;
			for (let e = t.length - 1; e >= 0; e--) n += `</${t[e].nodeName}>`;
			return n;
		}).join("");
	}
	toJSON() {
		return this.toString();
	}
	_write(e) {
		e.writeTypeRef(No);
	}
}, ao = (e) => new io(), oo = class {
	constructor(e, t) {
		this.id = e, this.length = t;
	}
	get deleted() {
		throw C();
	}
	mergeWith(e) {
		return !1;
	}
	write(e, t, n) {
		throw C();
	}
	integrate(e, t) {
		throw C();
	}
}, so = 0, q = class extends oo {
	get deleted() {
		return !0;
	}
	delete() {}
	mergeWith(e) {
		return this.constructor === e.constructor && (this.length += e.length, !0);
	}
	integrate(e, t) {
		t > 0 && (this.id.clock += t, this.length -= t), Oi(e.doc.store, this);
	}
	write(e, t) {
		e.writeInfo(so), e.writeLen(this.length - t);
	}
	getMissing(e, t) {
		return null;
	}
}, co = class e {
	constructor(e) {
		this.content = e;
	}
	getLength() {
		return 1;
	}
	getContent() {
		return [this.content];
	}
	isCountable() {
		return !0;
	}
	copy() {
		return new e(this.content);
	}
	splice(e) {
		throw C();
	}
	mergeWith(e) {
		return !1;
	}
	integrate(e, t) {}
	delete(e) {}
	gc(e) {}
	write(e, t) {
		e.writeBuf(this.content);
	}
	getRef() {
		return 3;
	}
}, lo = (e) => new co(e.readBuf()), uo = class e {
	constructor(e) {
		this.len = e;
	}
	getLength() {
		return this.len;
	}
	getContent() {
		return [];
	}
	isCountable() {
		return !1;
	}
	copy() {
		return new e(this.len);
	}
	splice(t) {
		let n = new e(this.len - t);
		return this.len = t, n;
	}
	mergeWith(e) {
		return this.len += e.len, !0;
	}
	integrate(e, t) {
		Ir(e.deleteSet, t.id.client, t.id.clock, this.len), t.markDeleted();
	}
	delete(e) {}
	gc(e) {}
	write(e, t) {
		e.writeLen(this.len - t);
	}
	getRef() {
		return 1;
	}
}, fo = (e) => new uo(e.readLen()), po = (e, t) => new Ur({
	guid: e,
	...t,
	shouldLoad: t.shouldLoad || t.autoLoad || !1
}), mo = class e {
	constructor(e) {
		e._item && console.error("This document was already integrated as a sub-document. You should create a second instance instead with the same guid."), this.doc = e;
		let t = {};
		this.opts = t, e.gc || (t.gc = !1), e.autoLoad && (t.autoLoad = !0), e.meta !== null && (t.meta = e.meta);
	}
	getLength() {
		return 1;
	}
	getContent() {
		return [this.doc];
	}
	isCountable() {
		return !0;
	}
	copy() {
		return new e(po(this.doc.guid, this.opts));
	}
	splice(e) {
		throw C();
	}
	mergeWith(e) {
		return !1;
	}
	integrate(e, t) {
		this.doc._item = t, e.subdocsAdded.add(this.doc), this.doc.shouldLoad && e.subdocsLoaded.add(this.doc);
	}
	delete(e) {
		e.subdocsAdded.has(this.doc) ? e.subdocsAdded.delete(this.doc) : e.subdocsRemoved.add(this.doc);
	}
	gc(e) {}
	write(e, t) {
		e.writeString(this.doc.guid), e.writeAny(this.opts);
	}
	getRef() {
		return 9;
	}
}, ho = (e) => new mo(po(e.readString(), e.readAny())), go = class e {
	constructor(e) {
		this.embed = e;
	}
	getLength() {
		return 1;
	}
	getContent() {
		return [this.embed];
	}
	isCountable() {
		return !0;
	}
	copy() {
		return new e(this.embed);
	}
	splice(e) {
		throw C();
	}
	mergeWith(e) {
		return !1;
	}
	integrate(e, t) {}
	delete(e) {}
	gc(e) {}
	write(e, t) {
		e.writeJSON(this.embed);
	}
	getRef() {
		return 5;
	}
}, _o = (e) => new go(e.readJSON()), J = class e {
	constructor(e, t) {
		this.key = e, this.value = t;
	}
	getLength() {
		return 1;
	}
	getContent() {
		return [];
	}
	isCountable() {
		return !1;
	}
	copy() {
		return new e(this.key, this.value);
	}
	splice(e) {
		throw C();
	}
	mergeWith(e) {
		return !1;
	}
	integrate(e, t) {
		let n = t.parent;
		n._searchMarker = null, n._hasFormatting = !0;
	}
	delete(e) {}
	gc(e) {}
	write(e, t) {
		e.writeKey(this.key), e.writeJSON(this.value);
	}
	getRef() {
		return 6;
	}
}, vo = (e) => new J(e.readKey(), e.readJSON()), yo = class e {
	constructor(e) {
		this.arr = e;
	}
	getLength() {
		return this.arr.length;
	}
	getContent() {
		return this.arr;
	}
	isCountable() {
		return !0;
	}
	copy() {
		return new e(this.arr);
	}
	splice(t) {
		let n = new e(this.arr.slice(t));
		return this.arr = this.arr.slice(0, t), n;
	}
	mergeWith(e) {
		return this.arr = this.arr.concat(e.arr), !0;
	}
	integrate(e, t) {}
	delete(e) {}
	gc(e) {}
	write(e, t) {
		let n = this.arr.length;
		e.writeLen(n - t);
		for (let r = t; r < n; r++) {
			let t = this.arr[r];
			e.writeString(t === void 0 ? "undefined" : JSON.stringify(t));
		}
	}
	getRef() {
		return 2;
	}
}, bo = (e) => {
	let t = e.readLen(), n = [];
	for (let r = 0; r < t; r++) {
		let t = e.readString();
		t === "undefined" ? n.push(void 0) : n.push(JSON.parse(t));
	}
	return new yo(n);
}, xo = Ft("node_env") === "development", So = class e {
	constructor(e) {
		this.arr = e, xo && Et(e);
	}
	getLength() {
		return this.arr.length;
	}
	getContent() {
		return this.arr;
	}
	isCountable() {
		return !0;
	}
	copy() {
		return new e(this.arr);
	}
	splice(t) {
		let n = new e(this.arr.slice(t));
		return this.arr = this.arr.slice(0, t), n;
	}
	mergeWith(e) {
		return this.arr = this.arr.concat(e.arr), !0;
	}
	integrate(e, t) {}
	delete(e) {}
	gc(e) {}
	write(e, t) {
		let n = this.arr.length;
		e.writeLen(n - t);
		for (let r = t; r < n; r++) {
			let t = this.arr[r];
			e.writeAny(t);
		}
	}
	getRef() {
		return 8;
	}
}, Co = (e) => {
	let t = e.readLen(), n = [];
	for (let r = 0; r < t; r++) n.push(e.readAny());
	return new So(n);
}, wo = class e {
	constructor(e) {
		this.str = e;
	}
	getLength() {
		return this.str.length;
	}
	getContent() {
		return this.str.split("");
	}
	isCountable() {
		return !0;
	}
	copy() {
		return new e(this.str);
	}
	splice(t) {
		let n = new e(this.str.slice(t));
		this.str = this.str.slice(0, t);
		let r = this.str.charCodeAt(t - 1);
		return r >= 55296 && r <= 56319 && (this.str = this.str.slice(0, t - 1) + "�", n.str = "�" + n.str.slice(1)), n;
	}
	mergeWith(e) {
		return this.str += e.str, !0;
	}
	integrate(e, t) {}
	delete(e) {}
	gc(e) {}
	write(e, t) {
		e.writeString(t === 0 ? this.str : this.str.slice(t));
	}
	getRef() {
		return 4;
	}
}, To = (e) => new wo(e.readString()), Eo = [
	Aa,
	Ma,
	Ya,
	eo,
	Qa,
	ro,
	ao
], Do = 0, Oo = 1, ko = 2, Ao = 3, jo = 4, Mo = 5, No = 6, Po = class e {
	constructor(e) {
		this.type = e;
	}
	getLength() {
		return 1;
	}
	getContent() {
		return [this.type];
	}
	isCountable() {
		return !0;
	}
	copy() {
		return new e(this.type._copy());
	}
	splice(e) {
		throw C();
	}
	mergeWith(e) {
		return !1;
	}
	integrate(e, t) {
		this.type._integrate(e.doc, t);
	}
	delete(e) {
		let t = this.type._start;
		for (; t !== null;) t.deleted ? t.id.clock < (e.beforeState.get(t.id.client) || 0) && e._mergeStructs.push(t) : t.delete(e), t = t.right;
		this.type._map.forEach((t) => {
			t.deleted ? t.id.clock < (e.beforeState.get(t.id.client) || 0) && e._mergeStructs.push(t) : t.delete(e);
		}), e.changed.delete(this.type);
	}
	gc(e) {
		let t = this.type._start;
		for (; t !== null;) t.gc(e, !0), t = t.right;
		this.type._start = null, this.type._map.forEach((t) => {
			for (; t !== null;) t.gc(e, !0), t = t.left;
		}), this.type._map = /* @__PURE__ */ new Map();
	}
	write(e, t) {
		this.type._write(e);
	}
	getRef() {
		return 7;
	}
}, Fo = (e) => new Po(Eo[e.readTypeRef()](e)), Io = (e, t, n) => {
	let { client: r, clock: i } = t.id, a = new Y(L(r, i + n), t, L(r, i + n - 1), t.right, t.rightOrigin, t.parent, t.parentSub, t.content.splice(n));
	return t.deleted && a.markDeleted(), t.keep && (a.keep = !0), t.redone !== null && (a.redone = L(t.redone.client, t.redone.clock + n)), t.right = a, a.right !== null && (a.right.left = a), e._mergeStructs.push(a), a.parentSub !== null && a.right === null && a.parent._map.set(a.parentSub, a), t.length = n, a;
}, Y = class e extends oo {
	constructor(e, t, n, r, i, a, o, s) {
		super(e, s.getLength()), this.origin = n, this.left = t, this.right = r, this.rightOrigin = i, this.parent = a, this.parentSub = o, this.redone = null, this.content = s, this.info = this.content.isCountable() ? 2 : 0;
	}
	set marker(e) {
		(this.info & 8) > 0 !== e && (this.info ^= 8);
	}
	get marker() {
		return (this.info & 8) > 0;
	}
	get keep() {
		return (this.info & 1) > 0;
	}
	set keep(e) {
		this.keep !== e && (this.info ^= 1);
	}
	get countable() {
		return (this.info & 2) > 0;
	}
	get deleted() {
		return (this.info & 4) > 0;
	}
	set deleted(e) {
		this.deleted !== e && (this.info ^= 4);
	}
	markDeleted() {
		this.info |= 4;
	}
	getMissing(t, n) {
		if (this.origin && this.origin.client !== this.id.client && this.origin.clock >= R(n, this.origin.client)) return this.origin.client;
		if (this.rightOrigin && this.rightOrigin.client !== this.id.client && this.rightOrigin.clock >= R(n, this.rightOrigin.client)) return this.rightOrigin.client;
		if (this.parent && this.parent.constructor === bi && this.id.client !== this.parent.client && this.parent.clock >= R(n, this.parent.client)) return this.parent.client;
		if (this.origin &&= (this.left = ji(t, n, this.origin), this.left.lastId), this.rightOrigin &&= (this.right = B(t, this.rightOrigin), this.right.id), this.left && this.left.constructor === q || this.right && this.right.constructor === q) this.parent = null;
		else if (!this.parent) this.left && this.left.constructor === e ? (this.parent = this.left.parent, this.parentSub = this.left.parentSub) : this.right && this.right.constructor === e && (this.parent = this.right.parent, this.parentSub = this.right.parentSub);
		else if (this.parent.constructor === bi) {
			let e = ki(n, this.parent);
			this.parent = e.constructor === q ? null : e.content.type;
		}
		return null;
	}
	integrate(e, t) {
		if (t > 0 && (this.id.clock += t, this.left = ji(e, e.doc.store, L(this.id.client, this.id.clock - 1)), this.origin = this.left.lastId, this.content = this.content.splice(t), this.length -= t), this.parent) {
			if (!this.left && (!this.right || this.right.left !== null) || this.left && this.left.right !== this.right) {
				let t = this.left, n;
				if (t !== null) n = t.right;
				else if (this.parentSub !== null) for (n = this.parent._map.get(this.parentSub) || null; n !== null && n.left !== null;) n = n.left;
				else n = this.parent._start;
				let r = /* @__PURE__ */ new Set(), i = /* @__PURE__ */ new Set();
				for (; n !== null && n !== this.right;) {
					if (i.add(n), r.add(n), xi(this.origin, n.origin)) {
						if (n.id.client < this.id.client) t = n, r.clear();
						else if (xi(this.rightOrigin, n.rightOrigin)) break;
					} else if (n.origin !== null && i.has(ki(e.doc.store, n.origin))) r.has(ki(e.doc.store, n.origin)) || (t = n, r.clear());
					else break;
					n = n.right;
				}
				this.left = t;
			}
			if (this.left !== null) {
				let e = this.left.right;
				this.right = e, this.left.right = this;
			} else {
				let e;
				if (this.parentSub !== null) for (e = this.parent._map.get(this.parentSub) || null; e !== null && e.left !== null;) e = e.left;
				else e = this.parent._start, this.parent._start = this;
				this.right = e;
			}
			this.right === null ? this.parentSub !== null && (this.parent._map.set(this.parentSub, this), this.left !== null && this.left.delete(e)) : this.right.left = this, this.parentSub === null && this.countable && !this.deleted && (this.parent._length += this.length), Oi(e.doc.store, this), this.content.integrate(e, this), Ii(e, this.parent, this.parentSub), (this.parent._item !== null && this.parent._item.deleted || this.parentSub !== null && this.right !== null) && this.delete(e);
		} else new q(this.id, this.length).integrate(e, 0);
	}
	get next() {
		let e = this.right;
		for (; e !== null && e.deleted;) e = e.right;
		return e;
	}
	get prev() {
		let e = this.left;
		for (; e !== null && e.deleted;) e = e.left;
		return e;
	}
	get lastId() {
		return this.length === 1 ? this.id : L(this.id.client, this.id.clock + this.length - 1);
	}
	mergeWith(e) {
		if (this.constructor === e.constructor && xi(e.origin, this.lastId) && this.right === e && xi(this.rightOrigin, e.rightOrigin) && this.id.client === e.id.client && this.id.clock + this.length === e.id.clock && this.deleted === e.deleted && this.redone === null && e.redone === null && this.content.constructor === e.content.constructor && this.content.mergeWith(e.content)) {
			let t = this.parent._searchMarker;
			return t && t.forEach((t) => {
				t.p === e && (t.p = this, !this.deleted && this.countable && (t.index -= this.length));
			}), e.keep && (this.keep = !0), this.right = e.right, this.right !== null && (this.right.left = this), this.length += e.length, !0;
		}
		return !1;
	}
	delete(e) {
		if (!this.deleted) {
			let t = this.parent;
			this.countable && this.parentSub === null && (t._length -= this.length), this.markDeleted(), Ir(e.deleteSet, this.id.client, this.id.clock, this.length), Ii(e, t, this.parentSub), this.content.delete(e);
		}
	}
	gc(e, t) {
		if (!this.deleted) throw w();
		this.content.gc(e), t ? Mi(e, this, new q(this.id, this.length)) : this.content = new uo(this.length);
	}
	write(e, t) {
		let n = t > 0 ? L(this.id.client, this.id.clock + t - 1) : this.origin, r = this.rightOrigin, i = this.parentSub, a = this.content.getRef() & 31 | (n === null ? 0 : 128) | (r === null ? 0 : 64) | (i === null ? 0 : 32);
		if (e.writeInfo(a), n !== null && e.writeLeftID(n), r !== null && e.writeRightID(r), n === null && r === null) {
			let t = this.parent;
			if (t._item !== void 0) {
				let n = t._item;
				if (n === null) {
					let n = Si(t);
					e.writeParentInfo(!0), e.writeString(n);
				} else e.writeParentInfo(!1), e.writeLeftID(n.id);
			} else t.constructor === String ? (e.writeParentInfo(!0), e.writeString(t)) : t.constructor === bi ? (e.writeParentInfo(!1), e.writeLeftID(t)) : w();
			i !== null && e.writeString(i);
		}
		this.content.write(e, t);
	}
}, Lo = (e, t) => Ro[t & 31](e), Ro = [
	() => {
		w();
	},
	fo,
	bo,
	lo,
	To,
	_o,
	vo,
	Fo,
	Co,
	ho,
	() => {
		w();
	}
], zo = 10, X = class extends oo {
	get deleted() {
		return !0;
	}
	delete() {}
	mergeWith(e) {
		return this.constructor === e.constructor && (this.length += e.length, !0);
	}
	integrate(e, t) {
		w();
	}
	write(e, t) {
		e.writeInfo(zo), b(e.restEncoder, this.length - t);
	}
	getMissing(e, t) {
		return null;
	}
}, Bo = typeof globalThis < "u" ? globalThis : typeof window < "u" ? window : typeof global < "u" ? global : {}, Vo = "__ $YJS$ __";
Bo[Vo] === !0 && console.error("Yjs was already imported. This breaks constructor checks and will lead to issues! - https://github.com/yjs/yjs/issues/438"), Bo[Vo] = !0;
// node_modules/lib0/broadcastchannel.js
var Ho = /* @__PURE__ */ new Map(), Uo = class {
	constructor(e) {
		this.room = e, this.onmessage = null, this._onChange = (t) => t.key === e && this.onmessage !== null && this.onmessage({ data: Kt(t.newValue || "") }), dt(this._onChange);
	}
	postMessage(e) {
		ut.setItem(this.room, Gt(Bt(e)));
	}
	close() {
		ft(this._onChange);
	}
}, Wo = typeof BroadcastChannel > "u" ? Uo : BroadcastChannel, Go = (e) => n(Ho, e, () => {
	let t = a(), n = new Wo(e);
	return n.onmessage = (e) => t.forEach((t) => t(e.data, "broadcastchannel")), {
		bc: n,
		subs: t
	};
}), Ko = (e, t) => (Go(e).subs.add(t), t), qo = (e, t) => {
	let n = Go(e), r = n.subs.delete(t);
	return r && n.subs.size === 0 && (n.bc.close(), Ho.delete(e)), r;
}, Jo = (e, t, n = null) => {
	let r = Go(e);
	r.bc.postMessage(t), r.subs.forEach((e) => e(t, n));
}, Yo = (e, t) => {
	b(e, 0), x(e, mi(t));
}, Xo = (e, t, n) => {
	b(e, 1), x(e, ci(t, n));
}, Zo = (e, t, n) => Xo(t, n, E(e)), Qo = (e, t, n, r) => {
	try {
		ai(t, E(e), n);
	} catch (e) {
		r?.(e), console.error("Caught error while handling a Yjs update", e);
	}
}, $o = (e, t) => {
	b(e, 2), x(e, t);
}, es = Qo, ts = (e, t, n, r, i) => {
	let a = D(e);
	switch (a) {
		case 0:
			Zo(e, t, n);
			break;
		case 1:
			Qo(e, n, r, i);
			break;
		case 2:
			es(e, n, r, i);
			break;
		default: throw Error("Unknown message type");
	}
	return a;
}, ns = (e, t, n) => {
	D(e) === 0 && n(t, O(e));
}, rs = 3e4, is = class extends ee {
	constructor(e) {
		super(), this.doc = e, this.clientID = e.clientID, this.states = /* @__PURE__ */ new Map(), this.meta = /* @__PURE__ */ new Map(), this._checkInterval = setInterval(() => {
			let e = k();
			this.getLocalState() !== null && 15e3 <= e - this.meta.get(this.clientID).lastUpdated && this.setLocalState(this.getLocalState());
			let t = [];
			this.meta.forEach((n, r) => {
				r !== this.clientID && 3e4 <= e - n.lastUpdated && this.states.has(r) && t.push(r);
			}), t.length > 0 && as(this, t, "timeout");
		}, m(rs / 10)), e.on("destroy", () => {
			this.destroy();
		}), this.setLocalState({});
	}
	destroy() {
		this.emit("destroy", [this]), this.setLocalState(null), super.destroy(), clearInterval(this._checkInterval);
	}
	getLocalState() {
		return this.states.get(this.clientID) || null;
	}
	setLocalState(e) {
		let t = this.clientID, n = this.meta.get(t), r = n === void 0 ? 0 : n.clock + 1, i = this.states.get(t);
		e === null ? this.states.delete(t) : this.states.set(t, e), this.meta.set(t, {
			clock: r,
			lastUpdated: k()
		});
		let a = [], o = [], s = [], c = [];
		e === null ? c.push(t) : i == null ? e != null && a.push(t) : (o.push(t), kt(i, e) || s.push(t)), (a.length > 0 || s.length > 0 || c.length > 0) && this.emit("change", [{
			added: a,
			updated: s,
			removed: c
		}, "local"]), this.emit("update", [{
			added: a,
			updated: o,
			removed: c
		}, "local"]);
	}
	setLocalStateField(e, t) {
		let n = this.getLocalState();
		n !== null && this.setLocalState({
			...n,
			[e]: t
		});
	}
	getStates() {
		return this.states;
	}
}, as = (e, t, n) => {
	let r = [];
	for (let n = 0; n < t.length; n++) {
		let i = t[n];
		if (e.states.has(i)) {
			if (e.states.delete(i), i === e.clientID) {
				let t = e.meta.get(i);
				e.meta.set(i, {
					clock: t.clock + 1,
					lastUpdated: k()
				});
			}
			r.push(i);
		}
	}
	r.length > 0 && (e.emit("change", [{
		added: [],
		updated: [],
		removed: r
	}, n]), e.emit("update", [{
		added: [],
		updated: [],
		removed: r
	}, n]));
}, os = (e, t, n = e.states) => {
	let r = t.length, i = _();
	b(i, r);
	for (let a = 0; a < r; a++) {
		let r = t[a], o = n.get(r) || null, s = e.meta.get(r).clock;
		b(i, r), b(i, s), Te(i, JSON.stringify(o));
	}
	return v(i);
}, ss = (e, t, n) => {
	let r = T(t), i = k(), a = [], o = [], s = [], c = [], l = D(r);
	for (let t = 0; t < l; t++) {
		let t = D(r), n = D(r), l = JSON.parse(O(r)), u = e.meta.get(t), d = e.states.get(t), f = u === void 0 ? 0 : u.clock;
		(f < n || f === n && l === null && e.states.has(t)) && (l === null ? t === e.clientID && e.getLocalState() != null ? n++ : e.states.delete(t) : e.states.set(t, l), e.meta.set(t, {
			clock: n,
			lastUpdated: i
		}), u === void 0 && l !== null ? a.push(t) : u !== void 0 && l === null ? c.push(t) : l !== null && (kt(l, d) || s.push(t), o.push(t)));
	}
	(a.length > 0 || s.length > 0 || c.length > 0) && e.emit("change", [{
		added: a,
		updated: s,
		removed: c
	}, n]), (a.length > 0 || o.length > 0 || c.length > 0) && e.emit("update", [{
		added: a,
		updated: o,
		removed: c
	}, n]);
}, cs = (e) => yt(e, (e, t) => `${encodeURIComponent(t)}=${encodeURIComponent(e)}`).join("&"), ls = [];
ls[0] = (e, t, n, r, i) => {
	b(e, 0);
	let a = ts(t, e, n.doc, n);
	r && a === 1 && !n.synced && (n.synced = !0);
}, ls[3] = (e, t, n, r, i) => {
	b(e, 1), x(e, os(n.awareness, Array.from(n.awareness.getStates().keys())));
}, ls[1] = (e, t, n, r, i) => {
	ss(n.awareness, E(t), n);
}, ls[2] = (e, t, n, r, i) => {
	ns(t, n.doc, (e, t) => ds(n, t));
};
var us = 3e4, ds = (e, t) => console.warn(`Permission denied to access ${e.url}.\n${t}`), fs = (e, t, n) => {
	let r = T(t), i = _(), a = D(r), o = e.messageHandlers[a];
	return o ? o(i, r, e, n, a) : console.error("Unable to compute message"), i;
}, ps = (e) => !(e.code >= 4400 && e.code < 4500), ms = (e, t, n) => {
	if (t !== null && t === e.ws) {
		e.emit("connection-close", [n, e]), e.ws = null, t.onmessage = null, t.onopen = null, t.onclose = null, t.onerror = () => {}, t.close(), e.wsconnecting = !1, e.wsconnected && (e.wsconnected = !1, e.synced = !1, as(e.awareness, Array.from(e.awareness.getStates().keys()).filter((t) => t !== e.doc.clientID), e), e.emit("status", [{ status: "disconnected" }])), e.wsUnsuccessfulReconnects++;
		let r = null;
		n != null && !e.shouldReconnect(n, e) && (e.shouldConnect = !1, r = {
			code: n.code,
			reason: n.reason
		}), setTimeout(hs, te(ne(2, e.wsUnsuccessfulReconnects) * 100, e.maxBackoffTime), e), r !== null && e.emit("closed", [r, e]);
	}
}, hs = (e) => {
	if (e.shouldConnect && e.ws === null) {
		let t = new e._WS(e.url, e.protocols);
		t.binaryType = "arraybuffer", e.ws = t, e.wsconnecting = !0, e.wsconnected = !1, e.synced = !1, t.onmessage = (n) => {
			if (e.ws !== t) return;
			e.wsLastMessageReceived = k();
			let r = fs(e, new Uint8Array(n.data), !0);
			ye(r) > 1 && t.send(v(r));
		}, t.onerror = (n) => {
			e.ws === t && e.emit("connection-error", [n, e]);
		}, t.onclose = (n) => {
			ms(e, t, n);
		}, t.onopen = () => {
			if (e.ws !== t) return;
			e.wsLastMessageReceived = k(), e.wsconnecting = !1, e.wsconnected = !0, e.emit("status", [{ status: "connected" }]);
			let n = _();
			if (b(n, 0), Yo(n, e.doc), t.send(v(n)), e.awareness.getLocalState() !== null) {
				let n = _();
				b(n, 1), x(n, os(e.awareness, [e.doc.clientID])), t.send(v(n));
			}
		}, e.emit("status", [{ status: "connecting" }]);
	}
}, gs = (e, t) => {
	let n = e.ws;
	e.wsconnected && n && n.readyState === n.OPEN && n.send(t), e.bcconnected && Jo(e.bcChannel, t, e);
}, _s = class extends p {
	constructor(e, t, n, { connect: r = !0, awareness: i = new is(n), params: a = {}, protocols: o = [], WebSocketPolyfill: s = WebSocket, resyncInterval: c = -1, maxBackoffTime: l = 2500, disableBc: u = !1, shouldReconnect: d = ps } = {}) {
		for (super(); e[e.length - 1] === "/";) e = e.slice(0, e.length - 1);
		this.serverUrl = e, this.bcChannel = e + "/" + t, this.maxBackoffTime = l, this.shouldReconnect = d, this.params = a, this.protocols = o, this.roomname = t, this.doc = n, this._WS = s, this.awareness = i, this.wsconnected = !1, this.wsconnecting = !1, this.bcconnected = !1, this.disableBc = u, this.wsUnsuccessfulReconnects = 0, this.messageHandlers = ls.slice(), this._synced = !1, this.ws = null, this.wsLastMessageReceived = 0, this.shouldConnect = r, this._resyncInterval = 0, c > 0 && (this._resyncInterval = setInterval(() => {
			if (this.ws && this.ws.readyState === WebSocket.OPEN) {
				let e = _();
				b(e, 0), Yo(e, n), this.ws.send(v(e));
			}
		}, c)), this._bcSubscriber = (e, t) => {
			if (t !== this) {
				let t = fs(this, new Uint8Array(e), !1);
				ye(t) > 1 && Jo(this.bcChannel, v(t), this);
			}
		}, this._updateHandler = (e, t) => {
			if (t !== this) {
				let t = _();
				b(t, 0), $o(t, e), gs(this, v(t));
			}
		}, this.doc.on("update", this._updateHandler), this._awarenessUpdateHandler = ({ added: e, updated: t, removed: n }, r) => {
			let a = e.concat(t).concat(n), o = _();
			b(o, 1), x(o, os(i, a)), gs(this, v(o));
		}, this._exitHandler = () => {
			as(this.awareness, [n.clientID], "app closed");
		}, A && typeof process < "u" && process.on("exit", this._exitHandler), i.on("update", this._awarenessUpdateHandler), this._checkInterval = setInterval(() => {
			this.wsconnected && us < k() - this.wsLastMessageReceived && ms(this, this.ws, null);
		}, us / 10), r && this.connect();
	}
	get url() {
		let e = cs(this.params);
		return this.serverUrl + "/" + this.roomname + (e.length === 0 ? "" : "?" + e);
	}
	get synced() {
		return this._synced;
	}
	set synced(e) {
		this._synced !== e && (this._synced = e, e && (this.wsUnsuccessfulReconnects = 0), this.emit("synced", [e]), this.emit("sync", [e]));
	}
	destroy() {
		this._resyncInterval !== 0 && clearInterval(this._resyncInterval), clearInterval(this._checkInterval), this.disconnect(), A && typeof process < "u" && process.off("exit", this._exitHandler), this.awareness.off("update", this._awarenessUpdateHandler), this.doc.off("update", this._updateHandler), super.destroy();
	}
	connectBc() {
		if (this.disableBc) return;
		this.bcconnected ||= (Ko(this.bcChannel, this._bcSubscriber), !0);
		let e = _();
		b(e, 0), Yo(e, this.doc), Jo(this.bcChannel, v(e), this);
		let t = _();
		b(t, 0), Xo(t, this.doc), Jo(this.bcChannel, v(t), this);
		let n = _();
		b(n, 3), Jo(this.bcChannel, v(n), this);
		let r = _();
		b(r, 1), x(r, os(this.awareness, [this.doc.clientID])), Jo(this.bcChannel, v(r), this);
	}
	disconnectBc() {
		let e = _();
		b(e, 1), x(e, os(this.awareness, [this.doc.clientID], /* @__PURE__ */ new Map())), gs(this, v(e)), this.bcconnected &&= (qo(this.bcChannel, this._bcSubscriber), !1);
	}
	disconnect() {
		this.shouldConnect = !1, this.disconnectBc(), this.ws !== null && ms(this, this.ws, null);
	}
	connect() {
		this.shouldConnect = !0, !this.wsconnected && this.ws === null && (hs(this), this.connectBc());
	}
}, Z = class extends Error {
	status;
	code;
	details;
	constructor(e, t, n, r = {}) {
		super(n), this.name = "MinibaseError", this.status = e, this.code = t, this.details = r;
	}
	get fields() {
		let e = this.details.fields;
		return Array.isArray(e) ? e : [];
	}
};
function vs(e, t) {
	let n = t?.error;
	if (n && typeof n.code == "string") {
		let t = typeof n.message == "string" ? n.message : n.code, r = n.details && typeof n.details == "object" ? n.details : {};
		return new Z(e, n.code, t, r);
	}
	return new Z(e, e >= 500 ? "server_error" : "bad_request", `The server answered ${e}.`);
}
// src/client/rest.ts
var ys = /* @__PURE__ */ new Set([
	"POST",
	"PUT",
	"PATCH",
	"DELETE"
]), bs = /* @__PURE__ */ new Set([
	502,
	503,
	504
]);
function xs() {
	let e = globalThis.crypto;
	return e && "randomUUID" in e ? e.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
function Ss(e, t) {
	return new Promise((n, r) => {
		let i = setTimeout(n, e);
		t?.addEventListener("abort", () => {
			clearTimeout(i), r(t.reason);
		});
	});
}
function Cs(e, t = 250, n = 1e4) {
	return Math.random() * Math.min(n, t * 2 ** e);
}
var ws = class {
	url;
	token;
	retries;
	onQuotaWarning;
	fetchImpl;
	constructor(e) {
		let t = typeof location < "u" ? location.origin : "http://127.0.0.1:8000";
		this.url = (e.url || t).replace(/\/+$/, ""), this.token = e.token ?? null, this.retries = e.retries ?? 3, this.onQuotaWarning = e.onQuotaWarning, this.fetchImpl = e.fetch ?? globalThis.fetch.bind(globalThis);
	}
	href(e, t) {
		let n = new URL(this.url + e);
		for (let [e, r] of Object.entries(t ?? {})) r != null && r !== "" && n.searchParams.set(e, String(r));
		return n.toString();
	}
	async request(e, t, n = {}) {
		let r = ys.has(e), i = {
			Accept: "application/json",
			...n.headers
		};
		this.token && (i.Authorization = `Bearer ${this.token}`);
		let a;
		n.rawBody === void 0 ? n.body !== void 0 && (a = JSON.stringify(n.body), i["Content-Type"] = "application/json") : (a = n.rawBody, i["Content-Type"] = n.contentType ?? "application/octet-stream"), r && (i["Idempotency-Key"] = n.idempotencyKey ?? xs());
		let o = this.href(t, n.query);
		for (let t = 0;; t++) {
			let r;
			try {
				r = await this.fetchImpl(o, {
					method: e,
					headers: i,
					body: a,
					signal: n.signal
				});
			} catch (e) {
				if (n.signal?.aborted) throw e;
				if (t < this.retries) {
					await Ss(Cs(t), n.signal);
					continue;
				}
				throw new Z(0, "network_error", "The server could not be reached.", { cause: String(e) });
			}
			if (r.status === 429 && t < this.retries) {
				let e = Number(r.headers.get("Retry-After") ?? "1");
				await Ss(Math.min(30, Number.isFinite(e) ? e : 1) * 1e3, n.signal);
				continue;
			}
			if (bs.has(r.status) && t < this.retries) {
				await Ss(Cs(t), n.signal);
				continue;
			}
			let s = r.headers.get("X-Quota-Warning");
			if (s && this.onQuotaWarning && this.onQuotaWarning(s), !r.ok) {
				let e = null;
				try {
					e = await r.json();
				} catch {
					e = null;
				}
				throw vs(r.status, e);
			}
			if (n.raw) return r;
			if (r.status === 204) return;
			let c = await r.text();
			return c ? JSON.parse(c) : void 0;
		}
	}
}, Ts = /* @__PURE__ */ new Set([4403, 4404]);
function Es(e, t, n) {
	let r = new Ur(), i = n.ticket, a = new _s(`${n.wsUrl}/v1/collab/${e}`, t, r, {
		params: !i && n.token ? { token: n.token } : {},
		disableBc: !0,
		connect: !i,
		...i ? { shouldReconnect: () => !1 } : {},
		...n.WebSocketPolyfill ? { WebSocketPolyfill: n.WebSocketPolyfill } : {}
	}), o = !1;
	if (i) {
		let e = 0, t = !1, r = async () => {
			if (o) return;
			let s;
			try {
				s = await i();
			} catch (t) {
				if (t instanceof Z && t.status === 401) {
					n.onRefused?.(4401);
					return;
				}
				setTimeout(() => void r(), Cs(e++, 250, 5e3));
				return;
			}
			o || (t = s === null, a.params = s === null ? n.token ? { token: n.token } : {} : { ticket: s }, a.connect());
		};
		a.on("closed", ({ code: i }) => {
			o || (Ts.has(i) || t && i === 4401 ? n.onRefused?.(i) : setTimeout(() => void r(), Cs(e++, 250, 5e3)));
		}), a.on("sync", (t) => {
			t && (e = 0);
		}), r();
	} else a.on("closed", ({ code: e }) => n.onRefused?.(e));
	if (n.presence) for (let [e, t] of Object.entries(n.presence)) a.awareness.setLocalStateField(e, t);
	let s = new Promise((e) => {
		if (a.synced) e();
		else {
			let t = (n) => {
				n && (a.off("sync", t), e());
			};
			a.on("sync", t);
		}
	});
	return {
		doc: r,
		provider: a,
		awareness: a.awareness,
		synced: s,
		destroy() {
			o = !0, a.awareness.setLocalState(null), a.destroy(), r.destroy();
		}
	};
}
// src/client/live.ts
var Ds = class {
	options;
	subs = /* @__PURE__ */ new Map();
	socket = null;
	attempt = 0;
	counter = 0;
	timer = null;
	pinger = null;
	stopped = !1;
	status = "closed";
	constructor(e) {
		this.options = e;
	}
	subscribe(e, t, n, r) {
		let i = `q${++this.counter}`, a = {
			id: i,
			query: e,
			args: t,
			onValue: n,
			onError: r
		};
		return this.subs.set(i, a), this.stopped = !1, this.socket?.readyState === 1 ? this.send({
			type: "subscribe",
			id: i,
			query: e,
			args: t
		}) : this.connect(), { unsubscribe: () => {
			this.subs.delete(i) && (this.socket?.readyState === 1 && this.send({
				type: "unsubscribe",
				id: i
			}), this.subs.size === 0 && this.close());
		} };
	}
	close() {
		this.stopped = !0, this.subs.clear(), this.timer && clearTimeout(this.timer), this.timer = null, this.stopPinger();
		let e = this.socket;
		this.socket = null, e?.close(1e3), this.setStatus("closed");
	}
	reconnect() {
		let e = this.socket;
		this.socket = null, e?.close(1e3), this.attempt = 0, this.connect();
	}
	setStatus(e) {
		this.status !== e && (this.status = e, this.options.onStatus?.(e));
	}
	send(e) {
		this.socket?.send(JSON.stringify(e));
	}
	stopPinger() {
		this.pinger && clearInterval(this.pinger), this.pinger = null;
	}
	connect() {
		if (this.stopped || this.socket || this.timer) return;
		this.setStatus("connecting");
		let e = this.options.WebSocket ?? WebSocket;
		this.options.socketUrl().then((t) => {
			if (this.stopped || this.socket) return;
			let n = new e(t);
			this.socket = n, n.onopen = () => {
				this.attempt = 0, this.setStatus("open");
				for (let e of this.subs.values()) this.send({
					type: "subscribe",
					id: e.id,
					query: e.query,
					args: e.args
				});
				this.stopPinger(), this.pinger = setInterval(() => this.send({ type: "ping" }), 25e3);
			}, n.onmessage = (e) => this.onMessage(String(e.data)), n.onclose = (e) => {
				this.socket === n && (this.socket = null, this.stopPinger(), e.code === 4401 ? (this.stopped = !0, this.setStatus("closed"), this.options.onUnauthenticated?.()) : this.scheduleReconnect());
			};
		}).catch(() => this.scheduleReconnect());
	}
	scheduleReconnect() {
		if (this.stopped || this.subs.size === 0) {
			this.setStatus("closed");
			return;
		}
		this.setStatus("connecting");
		let e = Cs(this.attempt++, 250, 5e3);
		this.timer = setTimeout(() => {
			this.timer = null, this.connect();
		}, e);
	}
	onMessage(e) {
		let t;
		try {
			t = JSON.parse(e);
		} catch {
			return;
		}
		let n = t.id ? this.subs.get(t.id) : void 0;
		n && (t.type === "result" ? n.onValue(t.value, t.version) : t.type === "error" && t.error && n.onError?.(new Z(0, t.error.code, t.error.message, t.error.details ?? {})));
	}
}, Os = (e) => {
	let t, n = /* @__PURE__ */ new Set(), r = (e, r) => {
		let i = typeof e == "function" ? e(t) : e;
		if (!Object.is(i, t)) {
			let e = t;
			t = r ?? (typeof i != "object" || !i) ? i : Object.assign({}, t, i), n.forEach((n) => n(t, e));
		}
	}, i = () => t, a = {
		setState: r,
		getState: i,
		getInitialState: () => o,
		subscribe: (e) => (n.add(e), () => n.delete(e))
	}, o = t = e(r, i, a);
	return a;
}, ks = ((e) => e ? Os(e) : Os), As = [
	"selected",
	"dragging",
	"resizing"
], js = [...As, "measured"];
function Q(e) {
	let t = null;
	for (let n of js) n in e && (t ??= { ...e }, delete t[n]);
	return t ?? e;
}
// src/client/binding.ts
function Ms(e) {
	return e instanceof G ? e.toJSON() : e && typeof e == "object" ? { ...e } : null;
}
function Ns(e) {
	let t = new G();
	for (let [n, r] of Object.entries(Q(e))) if (r !== void 0) {
		if (n === "data" && r && typeof r == "object" && !Array.isArray(r)) {
			let e = new G();
			for (let [t, n] of Object.entries(r)) n !== void 0 && e.set(t, n);
			t.set("data", e);
		} else t.set(n, r);
	}
	return t;
}
function Ps(e, t, n) {
	let r = e.get(t);
	if (r instanceof G) for (let [i, a] of Object.entries(Q(n))) a === void 0 ? r.delete(i) : i === "data" && r.get("data") instanceof G && a && typeof a == "object" ? Fs(e, t, a, !0) : r.set(i, a);
	else r && typeof r == "object" && e.set(t, Q({
		...r,
		...n
	}));
}
function Fs(e, t, n, r = !1) {
	let i = e.get(t);
	if (i instanceof G) {
		let e = i.get("data");
		if (e instanceof G) {
			if (r) for (let t of Array.from(e.keys())) t in n || e.delete(t);
			for (let [t, r] of Object.entries(n)) r === void 0 ? e.delete(t) : e.set(t, r);
		} else {
			let t = r || !e || typeof e != "object" ? {} : e;
			i.set("data", {
				...t,
				...n
			});
		}
	} else if (i && typeof i == "object") {
		let a = i, o = r ? {} : a.data ?? {};
		e.set(t, {
			...a,
			data: {
				...o,
				...n
			}
		});
	}
}
var Is = class {
	map;
	byId = /* @__PURE__ */ new Map();
	order = [];
	handler;
	constructor(e, t) {
		this.map = e;
		for (let [t, n] of e.entries()) {
			let e = Ms(n);
			e && (this.byId.set(t, e), this.order.push(t));
		}
		this.handler = (n, r) => {
			let i = /* @__PURE__ */ new Set();
			for (let t of n) if (t.target === e) for (let e of t.keysChanged) i.add(e);
			else t.path.length > 0 && i.add(String(t.path[0]));
			let a = !1;
			for (let t of i) {
				let n = Ms(e.get(t));
				n ? (this.byId.has(t) || (a = !0), this.byId.set(t, n)) : this.byId.delete(t);
			}
			if (a || this.order.length !== this.byId.size) {
				let e = this.order.filter((e) => this.byId.has(e)), t = new Set(e);
				for (let n of this.byId.keys()) t.has(n) || e.push(n);
				this.order = e;
			}
			t(this.items(), r.local);
		}, e.observeDeep(this.handler);
	}
	items() {
		return this.order.map((e) => this.byId.get(e));
	}
	get(e) {
		return this.byId.get(e);
	}
	destroy() {
		this.map.unobserveDeep(this.handler);
	}
}, Ls = [
	"#e4572e",
	"#17bebb",
	"#ffc914",
	"#76b041",
	"#7d5ba6",
	"#2e86ab",
	"#f26419"
];
function Rs(e, t) {
	let n = /* @__PURE__ */ new Map(), r = /* @__PURE__ */ new Set(), i = [];
	for (let e of t) if (e.type === "add" && e.item) i.push(e.item);
	else if (e.type === "remove" && e.id) r.add(e.id);
	else if (e.id) {
		let t = n.get(e.id) ?? [];
		t.push(e), n.set(e.id, t);
	}
	let a = [];
	for (let t of e) {
		if (r.has(t.id)) continue;
		let e = n.get(t.id);
		if (!e) {
			a.push(t);
			continue;
		}
		let i = { ...t };
		for (let t of e) switch (t.type) {
			case "select":
				i.selected = t.selected;
				break;
			case "position":
				t.position && (i.position = t.position), t.dragging !== void 0 && (i.dragging = t.dragging);
				break;
			case "dimensions":
				if (t.dimensions && (i.measured = {
					...i.measured,
					...t.dimensions
				}, t.setAttributes)) {
					let e = t.dimensions;
					i.width = e.width, i.height = e.height;
				}
				t.resizing !== void 0 && (i.resizing = t.resizing);
				break;
			case "replace": t.item && (i = { ...t.item });
		}
		a.push(i);
	}
	return i.length ? a.concat(i) : a;
}
function zs(e, t, n) {
	let r = new Map(t.map((e) => [e.id, e]));
	return e.map((e) => {
		let t = r.get(e.id);
		if (t && n.get(t) === e) return t;
		let i = e;
		return t && (t.selected || t.measured || t.dragging || t.resizing) && (i = { ...e }, t.selected && (i.selected = !0), t.measured && (i.measured = t.measured), t.dragging && (i.dragging = !0, i.position = t.position), t.resizing && (i.resizing = !0)), n.set(i, e), i;
	});
}
function Bs(e, t) {
	if (e === t) return !0;
	if (typeof e != "object" || typeof t != "object" || e === null || t === null || Array.isArray(e) !== Array.isArray(t)) return !1;
	if (Array.isArray(e)) {
		let n = t;
		return e.length === n.length && e.every((e, t) => Bs(e, n[t]));
	}
	let n = Object.keys(e), r = t;
	return n.length === Object.keys(r).length && n.every((t) => t in r && Bs(e[t], r[t]));
}
function Vs(e, t) {
	if (!t) return e;
	let n = new Map(t.map((e) => [e.id, e]));
	return e.map((e) => {
		let t = n.get(e.id);
		return t && Bs(e, t) ? t : e;
	});
}
function Hs(e) {
	return `xy-edge__${e.source}${e.sourceHandle ?? ""}-${e.target}${e.targetHandle ?? ""}`;
}
function Us(e, t = {}) {
	let n = null, r = null, i = null, a = null, o = /* @__PURE__ */ new WeakMap(), s = {
		...t.user,
		color: t.user?.color ?? Ls[Math.floor(Math.random() * Ls.length)]
	};
	return ks()((c, l) => {
		let u = () => {
			let e = l().orgId;
			if (!e) throw new Z(0, "bad_request", "No organization chosen: call setOrg(orgId) first.");
			return e;
		}, d = (e) => {
			r = e, c({
				currentFlow: e,
				nodes: zs(e.nodes, l().nodes, o),
				edges: zs(e.edges, l().edges, o)
			});
		}, f = (e) => {
			let t = l().currentFlow;
			t && c({ currentFlow: {
				...t,
				...e
			} });
		}, p = () => l().nodes.filter((e) => e.selected).map((e) => e.id), ee = () => {
			n?.awareness.setLocalStateField("selection", p());
		}, m = null, h = (e) => {
			if (!n || l().readOnly) return !1;
			if (m) return m.push(e), !0;
			let t = n.doc;
			return t.transact(() => e(t.getMap("nodes"), t.getMap("edges")), "minibase-store"), !0;
		};
		return {
			selectedNodeId: null,
			showHistoryPanel: !1,
			inspectorLocked: !1,
			orgId: t.orgId ?? e.orgId ?? null,
			flows: [],
			currentFlow: null,
			nodes: [],
			edges: [],
			peers: [],
			connection: "offline",
			readOnly: !1,
			error: null,
			setOrg: (e) => c({
				orgId: e,
				flows: [],
				currentFlow: null,
				nodes: [],
				edges: []
			}),
			setSelectedNodeId: (e) => c({ selectedNodeId: e }),
			setShowHistoryPanel: (e) => c({ showHistoryPanel: e }),
			setInspectorLocked: (e) => c({ inspectorLocked: e }),
			setReadOnly: (e) => c({ readOnly: e }),
			async loadFlows() {
				let t = await e.flows.list(u(), { limit: 500 });
				return c({ flows: t.items }), t.items;
			},
			async loadFromServer(t) {
				let n = await e.flows.get(u(), t);
				return d(n), n;
			},
			async syncToServer(t) {
				let n = u(), i = l().currentFlow, a = t ?? {
					...i,
					nodes: l().nodes.map((e) => Q(e)),
					edges: l().edges.map((e) => Q(e))
				}, o = (a.nodes ?? []).map((e) => Q(e)), s = (a.edges ?? []).map((e) => Q(e)), f;
				try {
					if (a.id) {
						let t = r?.id === a.id ? r : await e.flows.get(n, a.id);
						o = Vs(o, t.nodes), s = Vs(s, t.edges);
					}
					f = a.id ? await e.flows.save(n, a.id, {
						name: a.name,
						nodes: o,
						edges: s,
						baseVersion: a.version ?? (i?.id === a.id ? i.version : 1)
					}) : await e.flows.create(n, {
						name: a.name ?? "Untitled flow",
						nodes: o,
						edges: s
					});
				} catch (e) {
					throw e instanceof Z && c({ error: e }), e;
				}
				i && i.id !== f.id || d(f);
				let p = l().flows;
				return p.length && c({ flows: [{
					id: f.id,
					name: f.name,
					version: f.version,
					lastModified: f.lastModified,
					createdBy: f.createdBy,
					nodeCount: f.nodes.length,
					edgeCount: f.edges.length
				}, ...p.filter((e) => e.id !== f.id)] }), f;
			},
			subscribeToUpdates(t) {
				let d = u();
				n?.destroy(), i?.destroy(), a?.destroy();
				let p = e.collab(d, t, { presence: {
					user: s,
					cursor: null,
					selection: []
				} });
				n = p, m = [], c({ connection: "connecting" }), p.synced.then(() => {
					if (n !== p) return;
					let e = m ?? [];
					m = null;
					let t = p.doc;
					e.length && t.transact(() => {
						for (let n of e) n(t.getMap("nodes"), t.getMap("edges"));
					}, "minibase-store"), p.provider.wsconnected && c({ connection: "connected" });
				});
				let ee = p.doc;
				i = new Is(ee.getMap("nodes"), (e) => {
					c({ nodes: zs(e, l().nodes, o) }), f({ nodes: e });
				}), a = new Is(ee.getMap("edges"), (e) => {
					c({ edges: zs(e, l().edges, o) }), f({ edges: e });
				});
				let h = ee.getMap("meta"), te = () => {
					let e = h.get("name");
					typeof e == "string" && f({ name: e });
				};
				h.observe(te);
				let g = ({ status: e }) => {
					e !== "connected" && c({ connection: "connecting" });
				}, ne = (e) => {
					e && m === null && c({ connection: "connected" });
				};
				p.provider.on("sync", ne), p.provider.on("status", g);
				let re = p.awareness, ie = () => {
					let e = [];
					re.getStates().forEach((t, n) => {
						n !== re.clientID && t?.user && e.push({
							clientId: n,
							user: t.user,
							cursor: t.cursor ?? null,
							selection: Array.isArray(t.selection) ? t.selection : []
						});
					}), c({ peers: e });
				};
				re.on("change", ie);
				let ae = e.subscribe("flows.list", { orgId: d }, (e) => {
					let n = e;
					c({ flows: n.items });
					let r = n.items.find((e) => e.id === t);
					r && f({
						version: r.version,
						lastModified: r.lastModified,
						name: r.name
					});
				});
				return l().currentFlow?.id !== t && e.flows.get(d, t).then((e) => {
					r = e, n === p && c({ currentFlow: {
						...e,
						nodes: i?.items() ?? e.nodes,
						edges: a?.items() ?? e.edges
					} });
				}, (e) => {
					e instanceof Z && c({ error: e });
				}), () => {
					ae.unsubscribe(), h.unobserve(te), re.off("change", ie), p.provider.off("status", g), p.provider.off("sync", ne), n === p && (i?.destroy(), a?.destroy(), i = null, a = null, n = null, m = null, c({
						connection: "offline",
						peers: []
					})), p.destroy();
				};
			},
			async importLocalFlows(t) {
				let n = u(), r = [];
				for (let i of t) {
					let t = {
						name: i.name ?? "Imported flow",
						nodes: (i.nodes ?? []).map((e) => Q(e)),
						edges: (i.edges ?? []).map((e) => Q(e))
					}, a = i.id ? `import-${n}-${i.id}` : void 0, o = await e.flows.create(n, t, { idempotencyKey: a });
					r.push({
						localId: i.id ?? null,
						flow: o
					});
				}
				return await l().loadFlows(), r;
			},
			onNodesChange(e) {
				let t = l().readOnly ? e.filter((e) => e.type === "select" || e.type === "dimensions") : e, r = Rs(l().nodes, t);
				c({ nodes: r });
				let i = t.find((e) => e.type === "select" && e.selected);
				if (i?.id ? c({ selectedNodeId: i.id }) : t.some((e) => e.type === "select") && !r.some((e) => e.selected) && c({ selectedNodeId: null }), t.some((e) => e.type === "select") && ee(), !h((e, n) => {
					for (let i of t) {
						let t = i.id;
						switch (i.type) {
							case "add":
								i.item && e.set(String(i.item.id), Ns(i.item));
								break;
							case "replace":
								i.item && t && e.set(t, Ns(i.item));
								break;
							case "remove":
								if (!t) break;
								e.delete(t);
								for (let [e, r] of n.entries()) {
									let i = r instanceof G ? r.toJSON() : r;
									i && (i.source === t || i.target === t) && n.delete(e);
								}
								break;
							case "position":
								if (t && i.dragging !== !0) {
									let n = r.find((e) => e.id === t), a = i.position ?? n?.position;
									a && e.has(t) && Ps(e, t, { position: {
										x: a.x,
										y: a.y
									} });
								}
								break;
							case "dimensions": if (t && i.setAttributes && i.resizing !== !0 && i.dimensions && e.has(t)) {
								let n = i.dimensions;
								Ps(e, t, {
									width: n.width,
									height: n.height
								});
							}
						}
					}
				}) && !n) {
					let e = l().currentFlow;
					e && t.some((e) => e.type !== "select" && e.type !== "dimensions") && c({ currentFlow: {
						...e,
						nodes: r.map((e) => Q(e))
					} });
				}
			},
			onEdgesChange(e) {
				let t = l().readOnly ? e.filter((e) => e.type === "select") : e;
				c({ edges: Rs(l().edges, t) }), h((e, n) => {
					for (let e of t) e.type === "add" && e.item ? n.set(String(e.item.id), Ns(e.item)) : e.type === "replace" && e.item && e.id ? n.set(e.id, Ns(e.item)) : e.type === "remove" && e.id && n.delete(e.id);
				});
			},
			onConnect(e) {
				if (!e.source || !e.target || l().readOnly) return;
				let t = {
					id: Hs(e),
					source: e.source,
					target: e.target,
					...e.sourceHandle ? { sourceHandle: e.sourceHandle } : {},
					...e.targetHandle ? { targetHandle: e.targetHandle } : {}
				};
				l().edges.some((e) => e.id === t.id) || h((e, n) => n.set(t.id, Ns(t))) || c({ edges: [...l().edges, t] });
			},
			addNode(e) {
				h((t) => t.set(e.id, Ns(e))) || c({ nodes: [...l().nodes, e] });
			},
			updateNodeData(e, t) {
				h((n) => Fs(n, e, t)) || c({ nodes: l().nodes.map((n) => n.id === e ? {
					...n,
					data: {
						...n.data,
						...t
					}
				} : n) });
			},
			setCursor(e) {
				n?.awareness.setLocalStateField("cursor", e);
			}
		};
	});
}
// src/client/minibase.ts
var $ = encodeURIComponent;
function Ws(e = {}) {
	return new Gs(e);
}
var Gs = class {
	transport;
	orgId;
	live;
	onUnauthenticated;
	ticketsUnsupported = !1;
	constructor(e = {}) {
		this.transport = new ws({
			url: e.url ?? "",
			token: e.token ?? null,
			retries: e.retries,
			onQuotaWarning: e.onQuotaWarning
		}), this.orgId = e.orgId, this.onUnauthenticated = e.onUnauthenticated, this.live = new Ds({
			socketUrl: () => this.socketUrl("/v1/sync"),
			onStatus: e.onLiveStatus,
			onUnauthenticated: e.onUnauthenticated
		});
	}
	get url() {
		return this.transport.url;
	}
	get token() {
		return this.transport.token;
	}
	setToken(e) {
		this.transport.token = e, this.live.status !== "closed" && this.live.reconnect();
	}
	get wsUrl() {
		return this.transport.url.replace(/^http/, "ws");
	}
	async request(e, t, n) {
		try {
			return await this.transport.request(e, t, n);
		} catch (e) {
			throw e instanceof Z && e.status === 401 && this.transport.token && this.onUnauthenticated?.(), e;
		}
	}
	get(e, t, n) {
		return this.request("GET", e, {
			query: t,
			...n
		});
	}
	post(e, t, n) {
		return this.request("POST", e, {
			body: t ?? {},
			...n
		});
	}
	put(e, t, n) {
		return this.request("PUT", e, {
			body: t,
			...n
		});
	}
	patch(e, t, n) {
		return this.request("PATCH", e, {
			body: t,
			...n
		});
	}
	del(e, t) {
		return this.request("DELETE", e, t);
	}
	async socketUrl(e) {
		let t = new URL(this.wsUrl + e), n = await this.socketTicket();
		return n === null ? this.transport.token && t.searchParams.set("token", this.transport.token) : t.searchParams.set("ticket", n), t.toString();
	}
	async socketTicket() {
		if (!this.transport.token || this.ticketsUnsupported) return null;
		try {
			let { ticket: e } = await this.transport.request("POST", "/v1/socket-tickets", { body: {} });
			return e;
		} catch (e) {
			if (!(e instanceof Z) || e.status !== 404 && e.status !== 405) throw e;
			return this.ticketsUnsupported = !0, null;
		}
	}
	subscribe(e, t, n, r) {
		return this.live.subscribe(e, t, n, r);
	}
	collab(e, t, n = {}) {
		return Es(e, t, {
			wsUrl: this.wsUrl,
			token: this.transport.token,
			ticket: () => this.socketTicket(),
			presence: n.presence,
			onRefused: (e) => {
				e === 4401 && this.onUnauthenticated?.();
			}
		});
	}
	close() {
		this.live.close();
	}
	auth = {
		signup: async (e) => {
			let t = await this.post("/v1/auth/signup", e);
			return this.setToken(t.token), t;
		},
		login: async (e) => {
			let t = await this.post("/v1/auth/login", e);
			return this.setToken(t.token), t;
		},
		logout: async () => {
			await this.post("/v1/auth/logout"), this.live.close(), this.transport.token = null;
		},
		changePassword: (e) => this.post("/v1/auth/password", e),
		socketTicket: () => this.post("/v1/socket-tickets")
	};
	me = {
		get: () => this.get("/v1/me"),
		update: (e) => this.patch("/v1/me", e),
		export: () => this.get("/v1/me/export"),
		delete: () => this.del("/v1/me")
	};
	orgs = {
		list: (e = {}) => this.get("/v1/orgs", e),
		create: (e, t) => this.post("/v1/orgs", e, t),
		get: (e) => this.get(`/v1/orgs/${$(e)}`),
		update: (e, t) => this.patch(`/v1/orgs/${$(e)}`, t),
		delete: (e) => this.del(`/v1/orgs/${$(e)}`),
		usage: (e) => this.get(`/v1/orgs/${$(e)}/usage`),
		analytics: (e, t = {}) => this.get(`/v1/orgs/${$(e)}/analytics`, t),
		billingUsage: (e, t) => this.get(`/v1/orgs/${$(e)}/billing/usage`, { month: t }),
		export: (e, t = {}) => this.request("POST", `/v1/orgs/${$(e)}/export`, {
			body: t,
			raw: !0
		}),
		exportFormat: (e, t) => this.request("GET", `/v1/orgs/${$(e)}/export`, {
			query: { format: t },
			raw: !0
		}),
		import: (e, t = "new") => this.request("POST", "/v1/orgs/import", {
			rawBody: e,
			contentType: "application/zip",
			query: { ids: t }
		})
	};
	members = {
		list: (e, t = {}) => this.get(`/v1/orgs/${$(e)}/members`, t),
		setRole: (e, t, n) => this.patch(`/v1/orgs/${$(e)}/members/${$(t)}`, { role: n }),
		remove: (e, t) => this.del(`/v1/orgs/${$(e)}/members/${$(t)}`)
	};
	invitations = {
		create: (e, t) => this.post(`/v1/orgs/${$(e)}/invitations`, t),
		list: (e, t = {}) => this.get(`/v1/orgs/${$(e)}/invitations`, t),
		revoke: (e, t) => this.del(`/v1/orgs/${$(e)}/invitations/${$(t)}`),
		accept: (e) => this.post("/v1/invitations/accept", { token: e })
	};
	apiKeys = {
		create: (e, t) => this.post(`/v1/orgs/${$(e)}/api-keys`, t),
		list: (e, t = {}) => this.get(`/v1/orgs/${$(e)}/api-keys`, t),
		revoke: (e, t) => this.del(`/v1/orgs/${$(e)}/api-keys/${$(t)}`)
	};
	flows = {
		list: (e, t = {}) => this.get(`/v1/orgs/${$(e)}/flows`, t),
		create: (e, t, n) => this.post(`/v1/orgs/${$(e)}/flows`, t, n),
		get: (e, t) => this.get(`/v1/orgs/${$(e)}/flows/${$(t)}`),
		save: (e, t, n, r) => this.put(`/v1/orgs/${$(e)}/flows/${$(t)}`, n, r),
		patch: (e, t, n, r) => this.patch(`/v1/orgs/${$(e)}/flows/${$(t)}`, { ops: n }, r),
		rename: (e, t, n) => this.patch(`/v1/orgs/${$(e)}/flows/${$(t)}`, { ops: [{
			op: "rename",
			name: n
		}] }),
		delete: (e, t) => this.del(`/v1/orgs/${$(e)}/flows/${$(t)}`),
		restore: (e, t) => this.post(`/v1/orgs/${$(e)}/flows/${$(t)}/restore`),
		copy: (e, t, n) => this.post(`/v1/orgs/${$(e)}/flows/${$(t)}/copy`, n),
		exportFormat: (e, t, n) => this.request("GET", `/v1/orgs/${$(e)}/flows/${$(t)}/export`, {
			query: { format: n },
			raw: !0
		})
	};
	versions = {
		list: (e, t, n = {}) => this.get(`/v1/orgs/${$(e)}/flows/${$(t)}/versions`, n),
		get: (e, t, n) => this.get(`/v1/orgs/${$(e)}/flows/${$(t)}/versions/${n}`),
		diff: (e, t, n, r) => this.get(`/v1/orgs/${$(e)}/flows/${$(t)}/versions/${n}/diff/${r}`),
		restore: (e, t, n) => this.post(`/v1/orgs/${$(e)}/flows/${$(t)}/versions/${n}/restore`)
	};
	outputs = {
		write: (e, t, n) => this.post(`/v1/orgs/${$(e)}/flows/${$(t)}/outputs`, n),
		list: (e, t, n = {}) => this.get(`/v1/orgs/${$(e)}/flows/${$(t)}/outputs`, n)
	};
	audit = {
		list: (e, t = {}) => this.get(`/v1/orgs/${$(e)}/audit`, t),
		verify: (e) => this.get(`/v1/orgs/${$(e)}/audit/verify`)
	};
	nodeTypes = { list: (e) => this.get("/v1/node-types", { orgId: e }) };
	runs = {
		start: (e, t, n = {}) => this.post(`/v1/orgs/${$(e)}/flows/${$(t)}/runs`, n),
		list: (e, t = {}) => this.get(`/v1/orgs/${$(e)}/runs`, t),
		get: (e, t) => this.get(`/v1/orgs/${$(e)}/runs/${$(t)}`),
		cancel: (e, t) => this.post(`/v1/orgs/${$(e)}/runs/${$(t)}/cancel`)
	};
	schedules = {
		create: (e, t, n) => this.post(`/v1/orgs/${$(e)}/flows/${$(t)}/schedules`, n),
		list: (e, t) => this.get(`/v1/orgs/${$(e)}/flows/${$(t)}/schedules`),
		update: (e, t, n, r) => this.patch(`/v1/orgs/${$(e)}/flows/${$(t)}/schedules/${$(n)}`, r),
		delete: (e, t, n) => this.del(`/v1/orgs/${$(e)}/flows/${$(t)}/schedules/${$(n)}`)
	};
	webhooks = {
		create: (e, t, n = {}) => this.post(`/v1/orgs/${$(e)}/flows/${$(t)}/webhooks`, n),
		list: (e, t, n = {}) => this.get(`/v1/orgs/${$(e)}/flows/${$(t)}/webhooks`, n),
		delete: (e, t, n) => this.del(`/v1/orgs/${$(e)}/flows/${$(t)}/webhooks/${$(n)}`),
		rotateSecret: (e, t, n) => this.post(`/v1/orgs/${$(e)}/flows/${$(t)}/webhooks/${$(n)}/rotate-secret`)
	};
	eventWebhooks = {
		create: (e, t) => this.post(`/v1/orgs/${$(e)}/event-webhooks`, t),
		list: (e, t = {}) => this.get(`/v1/orgs/${$(e)}/event-webhooks`, t),
		delete: (e, t) => this.del(`/v1/orgs/${$(e)}/event-webhooks/${$(t)}`),
		deliveries: (e, t, n = {}) => this.get(`/v1/orgs/${$(e)}/event-webhooks/${$(t)}/deliveries`, n)
	};
	admin = {
		orgs: (e = {}) => this.get("/v1/admin/orgs", e),
		setPlan: (e, t) => this.patch(`/v1/admin/orgs/${$(e)}`, { plan: t }),
		backups: (e = {}) => this.get("/v1/admin/backups", e)
	};
	health = {
		live: () => this.get("/healthz"),
		ready: () => this.get("/readyz")
	};
};
export { Gs as MinibaseClient, Z as MinibaseError, As as VIEW_FIELDS, Ws as createClient, Us as createFlowStore, Q as stripLocal };

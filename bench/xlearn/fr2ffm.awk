# freMTPL2freq.csv -> libffm (binary label ClaimNb>0)
# usage: awk -F, -v train=OUT_TRAIN -v test=OUT_TEST -f fr2ffm.awk freMTPL2freq.csv
# columns: IDpol,ClaimNb,Exposure,Area,VehPower,VehAge,DrivAge,BonusMalus,VehBrand,VehGas,Density,Region
# fields : 0 Area, 1 VehPower, 2 VehAge(capped 20), 3 DrivAge(5-yr bins, capped 85),
#          4 BonusMalus(50 | 10-pt bins, capped 150), 5 VehBrand, 6 VehGas,
#          7 Density(bucket int(2*ln)), 8 Region
NR == 1 { next }
{
  sub(/\r$/, "")
  y = ($2 + 0 > 0) ? 1 : 0
  va = $6 + 0; if (va > 20) va = 20
  da = int(($7 + 0) / 5) * 5; if (da > 85) da = 85
  bm = $8 + 0; bm = (bm <= 50) ? 50 : int(bm / 10) * 10; if (bm > 150) bm = 150
  de = int(2 * log($11 + 0))
  v[0]=$4; v[1]=$5 + 0; v[2]=va; v[3]=da; v[4]=bm; v[5]=$9; v[6]=$10; v[7]=de; v[8]=$12
  line = y
  for (f = 0; f < 9; f++) {
    key = f SUBSEP v[f]
    if (!(key in id)) { id[key] = nfeat++ }
    line = line " " f ":" id[key] ":1"
  }
  if (($1 + 0) % 5 == 0) { print line > test; nte++; pte += y } else { print line > train; ntr++; ptr += y }
}
END {
  printf("freMTPL2freq: rows train=%d (pos %d) test=%d (pos %d) fields=9 features=%d\n", ntr, ptr, nte, pte, nfeat) > "/dev/stderr"
}

# TalkingData train_sample.csv -> libffm
# usage: awk -F, -v train=OUT_TRAIN -v test=OUT_TEST -f td2ffm.awk train_sample.csv
# fields: 0 ip,1 app,2 device,3 os,4 channel,5 app_channel,6 app_os,7 app_device
# feature ids: global 0-based, assigned in order of first appearance of (field,value)
NR == 1 { next }                       # header
{
  sub(/\r$/, "")
  ip=$1; app=$2; dev=$3; os=$4; ch=$5; y=$8
  v[0]=ip; v[1]=app; v[2]=dev; v[3]=os; v[4]=ch
  v[5]=app "_" ch; v[6]=app "_" os; v[7]=app "_" dev
  line = y
  for (f = 0; f < 8; f++) {
    key = f SUBSEP v[f]
    if (!(key in id)) { id[key] = nfeat++ }
    line = line " " f ":" id[key] ":1"
  }
  row = NR - 2                          # 0-based data-row index
  if (row % 5 == 0) { print line > test; nte++ } else { print line > train; ntr++ }
}
END {
  printf("talkingdata: rows train=%d test=%d fields=8 features=%d\n", ntr, nte, nfeat) > "/dev/stderr"
}
